"""open_image(): every odd input ends as an upright 8-bit sRGB RGB/RGBA image."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from processing.encode import encode
from processing.errors import CorruptImage
from processing.loader import open_image
from processing.resize import fit_within, resize_bytes

from .images import (
    RED,
    decode,
    oriented_jpeg,
    photo,
    png_chunk,
    sample_bytes,
    save,
    upright_card,
)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(int)


@pytest.mark.parametrize(
    "name",
    ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "page.png", "motorcycle_left.png"],
)
def test_real_photos_open_as_8_bit_rgb_without_metadata(name: str) -> None:
    image = open_image(sample_bytes(name))
    expected = Image.open(io.BytesIO(sample_bytes(name)))
    assert image.mode == "RGB"
    assert image.size == expected.size
    assert image.info == {}


def test_greyscale_page_becomes_rgb_with_equal_channels() -> None:
    image = pixels(open_image(sample_bytes("page.png")))
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()


# Modes -----------------------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb_with_the_right_colours() -> None:
    card = upright_card((64, 48))
    data = save(card.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    image = open_image(data)
    assert image.mode == "RGB"
    red, blue = pixels(image)[4, 4], pixels(image)[40, 60]
    assert red[0] > 230 and red[1] < 30 and red[2] < 30
    assert blue[2] > 230 and blue[0] < 30 and blue[1] < 30


SIXTEEN_BIT = np.array([[0, 255, 256, 32768, 65280, 65535]], dtype=np.uint16)
EIGHT_BIT = [0, 0, 1, 128, 255, 255]  # scaled by 256, not clipped at 255


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("I;16", "PNG"), ("I;16", "TIFF"), ("I;16B", "TIFF"), ("I", "TIFF"), ("F", "TIFF")],
)
def test_sixteen_bit_and_float_greyscale_are_scaled_not_clipped(mode: str, fmt: str) -> None:
    if mode == "I;16B":
        source = Image.frombytes(mode, (6, 1), SIXTEEN_BIT.astype(">u2").tobytes())
    else:
        source = Image.fromarray(SIXTEEN_BIT).convert(mode) if mode != "I;16" else Image.fromarray(
            SIXTEEN_BIT
        )
    data = save(source, fmt)
    assert Image.open(io.BytesIO(data)).mode == mode
    image = open_image(data)
    assert image.mode == "RGB"
    assert pixels(image)[0, :, 0].tolist() == EIGHT_BIT
    assert pixels(image)[0, :, 1].tolist() == EIGHT_BIT


def test_sixteen_bit_gradient_keeps_its_shape() -> None:
    gradient = (np.arange(256 * 8, dtype=np.uint32).reshape(8, 256) * 32).astype(np.uint16)
    image = open_image(save(Image.fromarray(gradient), "PNG"))
    assert pixels(image)[..., 0].min() == 0
    assert pixels(image)[..., 0].max() == 255
    assert len(np.unique(pixels(image)[..., 0])) == 256


def test_float_in_unit_range_scales_to_255() -> None:
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    image = open_image(save(Image.fromarray(values, "F"), "TIFF"))
    assert pixels(image)[0, :, 0].tolist() == [0, 128, 255]


def test_palette_png_with_transparency_keeps_its_alpha() -> None:
    palette = Image.new("P", (20, 10), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.paste(1, (10, 0, 20, 10))
    data = save(palette, "PNG", transparency=1)
    image = open_image(data)
    assert image.mode == "RGBA"
    assert image.getpixel((2, 2)) == (255, 0, 0, 255)
    assert image.getpixel((15, 5))[3] == 0


def test_la_keeps_alpha_and_grey() -> None:
    la = Image.merge("LA", [Image.new("L", (8, 8), 200), Image.linear_gradient("L").resize((8, 8))])
    image = open_image(save(la, "PNG"))
    assert image.mode == "RGBA"
    assert image.getpixel((3, 3))[:3] == (200, 200, 200)
    assert np.array_equal(pixels(image)[..., 3], pixels(la)[..., 1])


def test_rgba_keeps_partial_alpha_and_drops_opaque_alpha() -> None:
    partial = Image.new("RGBA", (8, 8), (10, 20, 30, 128))
    opaque = Image.new("RGBA", (8, 8), (10, 20, 30, 255))
    assert open_image(save(partial, "PNG")).getpixel((0, 0)) == (10, 20, 30, 128)
    assert open_image(save(opaque, "PNG")).mode == "RGB"


def test_one_bit_and_greyscale_become_rgb() -> None:
    bilevel = Image.new("1", (8, 8), 0)
    bilevel.paste(1, (4, 0, 8, 8))
    image = open_image(save(bilevel, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (0, 0, 0)
    assert image.getpixel((7, 0)) == (255, 255, 255)
    assert open_image(save(Image.new("L", (4, 4), 77), "PNG")).getpixel((1, 1)) == (77, 77, 77)


def test_rgb_png_with_a_transparent_colour_gets_alpha() -> None:
    card = upright_card((30, 30))
    image = open_image(save(card, "PNG", transparency=RED))
    assert image.mode == "RGBA"
    assert image.getpixel((1, 1))[3] == 0
    assert image.getpixel((25, 25))[3] == 255


def test_animated_gif_uses_the_first_frame() -> None:
    data = sample_bytes("no_time_for_that_tiny.gif")
    gif = Image.open(io.BytesIO(data))
    first = gif.convert("RGBA")
    gif.seek(5)
    sixth = gif.convert("RGBA")
    image = open_image(data).convert("RGBA")
    assert np.array_equal(pixels(image), pixels(first))
    assert not np.array_equal(pixels(image), pixels(sixth))


def test_progressive_jpeg_opens() -> None:
    data = save(photo((300, 200)), "JPEG", progressive=True)
    assert decode(data).info.get("progressive") or decode(data).info.get("progression")
    assert open_image(data).size == (300, 200)


# Colour profiles -------------------------------------------------------------------------------


def test_embedded_wide_gamut_profile_is_converted_to_srgb() -> None:
    data = sample_bytes("rocket.jpg")  # tagged Adobe RGB (1998)
    naive = pixels(Image.open(io.BytesIO(data)).convert("RGB"))
    converted = pixels(open_image(data))
    assert np.abs(converted - naive).mean() > 1.0


def test_srgb_profile_leaves_pixels_alone_and_junk_profile_is_dropped() -> None:
    card = photo((64, 48))
    plain = pixels(open_image(save(card, "PNG")))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert np.array_equal(pixels(open_image(save(card, "PNG", icc_profile=srgb))), plain)
    assert np.array_equal(pixels(open_image(save(card, "PNG", icc_profile=b"junk" * 40))), plain)


def test_threads_share_colour_transforms_safely() -> None:
    data = sample_bytes("rocket.jpg")  # Adobe RGB: every open goes through the cached transform
    expected = open_image(data).tobytes()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: open_image(data).tobytes(), range(16)))
    assert all(result == expected for result in results)


# Orientation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_and_gps_never_survives(orientation: int) -> None:
    data = oriented_jpeg(orientation)
    source_exif = Image.open(io.BytesIO(data)).getexif()
    assert source_exif[0x0112] == orientation and source_exif.get_ifd(0x8825)  # precondition

    image = open_image(data)
    assert image.size == (60, 40)
    assert_red_block_top_left(image)

    for fmt in ("JPEG", "PNG", "WEBP"):
        out = encode(image, fmt)
        reopened = decode(out)
        assert len(reopened.getexif()) == 0
        assert "exif" not in reopened.info
        assert b"SecretCam" not in out and b"Exif" not in out
        assert_red_block_top_left(reopened.convert("RGB"))


def assert_red_block_top_left(image: Image.Image) -> None:
    width, height = image.size
    corners = {
        "top-left": image.getpixel((3, 3)),
        "top-right": image.getpixel((width - 4, 3)),
        "bottom-left": image.getpixel((3, height - 4)),
        "bottom-right": image.getpixel((width - 4, height - 4)),
    }
    reds = [name for name, (r, g, b) in corners.items() if r > 200 and g < 60 and b < 60]
    assert reds == ["top-left"], corners


def test_rotated_orientation_swaps_the_draft_box() -> None:
    # Stored 4000x3000, shown 3000x4000 (orientation 6): the draft target must be computed
    # on the upright size, so the result is still >= the fitted 768x1024.
    data = oriented_jpeg(6, card=upright_card((3000, 4000)), quality=90)
    image = open_image(data, box=(1024, 1024))
    assert image.size == (1500, 2000)
    assert_red_block_top_left(image)
    assert resize_bytes(data).size == (768, 1024)


# JPEG draft ------------------------------------------------------------------------------------


def test_big_jpeg_is_decoded_at_reduced_scale_for_a_box(big_jpeg: bytes) -> None:
    assert open_image(big_jpeg).size == (4000, 3000)
    assert open_image(big_jpeg, box=(1024, 1024)).size == (2000, 1500)
    assert open_image(big_jpeg, box=(256, 256)).size == (500, 375)
    assert open_image(big_jpeg, box=(5000, 5000)).size == (4000, 3000)


def test_draft_is_asked_for_the_fitted_size(
    big_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        calls.append((mode, size))
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    image = fit_within(open_image(big_jpeg, box=(1024, 1024)), (1024, 1024))
    assert calls == [("RGB", (1024, 768))]
    assert image.size == (1024, 768)


def test_draft_result_is_close_to_a_full_decode(big_jpeg: bytes) -> None:
    fast = pixels(resize_bytes(big_jpeg))
    slow = pixels(fit_within(open_image(big_jpeg)))
    assert fast.shape == slow.shape == (768, 1024, 3)
    assert np.abs(fast - slow).mean() < 2.0


# Decode errors ---------------------------------------------------------------------------------


def test_png_with_broken_pixel_data_is_corrupt() -> None:
    # Header and IEND intact (probe passes), the compressed pixel data cut in half.
    good = save(photo((64, 64)), "PNG")
    start = good.index(b"IDAT") - 4
    length = int.from_bytes(good[start : start + 4], "big")
    payload = good[start + 8 : start + 8 + length]
    broken = good[:start] + png_chunk(b"IDAT", payload[: length // 2]) + png_chunk(b"IEND", b"")
    with pytest.raises(CorruptImage) as failure:
        open_image(broken)
    assert str(failure.value) in {
        "corrupt image (truncated PNG)",
        "corrupt image (invalid PNG data)",
    }
