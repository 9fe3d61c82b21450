"""encode(): formats round-trip, alpha where the format has it, never any metadata."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from processing.encode import encode, encode_intermediate, extension, media_type

from .images import decode, exif_with_gps, photo


@pytest.fixture
def picture() -> Image.Image:
    return photo((320, 240))


@pytest.fixture
def translucent() -> Image.Image:
    image = Image.new("RGBA", (64, 32), (255, 0, 0, 255))
    image.putalpha(Image.linear_gradient("L").resize((64, 32)))
    image.paste((0, 0, 0, 0), (0, 0, 8, 8))
    return image


@pytest.mark.parametrize(
    ("fmt", "pillow_format", "mime", "ext"),
    [
        ("JPEG", "JPEG", "image/jpeg", "jpg"),
        ("jpg", "JPEG", "image/jpeg", "jpg"),
        ("PNG", "PNG", "image/png", "png"),
        ("webp", "WEBP", "image/webp", "webp"),
    ],
)
def test_formats_round_trip(
    picture: Image.Image, fmt: str, pillow_format: str, mime: str, ext: str
) -> None:
    out = decode(encode(picture, fmt))
    assert out.format == pillow_format
    assert out.size == picture.size
    error = np.abs(np.asarray(out.convert("RGB")).astype(int) - np.asarray(picture)).mean()
    assert error < (0.01 if pillow_format == "PNG" else 6)
    assert media_type(fmt) == mime and extension(fmt) == ext


def test_media_types_and_extensions_of_input_formats() -> None:
    assert (media_type("GIF"), extension("GIF")) == ("image/gif", "gif")
    assert (media_type("TIFF"), extension("tiff")) == ("image/tiff", "tif")
    with pytest.raises(ValueError, match="unknown image format 'BMP'"):
        media_type("BMP")


def test_jpeg_is_progressive(picture: Image.Image) -> None:
    info = decode(encode(picture, "JPEG")).info
    assert info.get("progressive") or info.get("progression")


def test_quality_changes_size(picture: Image.Image) -> None:
    assert len(encode(picture, "JPEG", quality=30)) < len(encode(picture, "JPEG", quality=90))
    assert len(encode(picture, "WEBP", quality=30)) < len(encode(picture, "WEBP", quality=90))


def test_png_keeps_alpha_exactly(translucent: Image.Image) -> None:
    out = decode(encode(translucent, "PNG"))
    assert out.mode == "RGBA"
    assert out.tobytes() == translucent.tobytes()


def test_webp_keeps_alpha(translucent: Image.Image) -> None:
    out = decode(encode(translucent, "WEBP", quality=90))
    assert out.mode == "RGBA"
    alpha_error = np.abs(
        np.asarray(out.getchannel("A")).astype(int) - np.asarray(translucent.getchannel("A"))
    )
    assert alpha_error.max() <= 2


def test_rgba_to_jpeg_is_flattened_on_white(translucent: Image.Image) -> None:
    out = decode(encode(translucent, "JPEG", quality=95))
    assert out.mode == "RGB"
    assert min(out.getpixel((2, 2))) > 240  # fully transparent -> white
    r, g, b = out.getpixel((40, 31))  # bottom row: nearly opaque red
    assert r > 230 and g < 40 and b < 40


def test_greyscale_and_palette_inputs_encode(picture: Image.Image) -> None:
    grey = picture.convert("L")
    assert decode(encode(grey, "JPEG")).mode == "L"
    assert decode(encode(grey, "PNG")).mode == "L"
    assert decode(encode(picture.convert("P"), "WEBP")).mode == "RGB"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_no_metadata_survives(picture: Image.Image, fmt: str, mode: str) -> None:
    image = picture.convert(mode)
    exif = exif_with_gps(6)
    image.info.update(
        exif=exif.tobytes(),
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(),
        comment=b"SecretComment",
        xmp=b"<x:xmpmeta>SecretXMP</x:xmpmeta>",
        dpi=(300, 300),
    )
    image.getexif().update(exif)
    before = dict(image.info)
    data = encode(image, fmt)
    out = decode(data)
    assert len(out.getexif()) == 0
    assert not {"exif", "icc_profile", "comment", "xmp", "XML:com.adobe.xmp"} & set(out.info)
    for secret in (b"SecretCam", b"SecretComment", b"SecretXMP", b"Exif\x00"):
        assert secret not in data
    assert image.info == before, "the caller's image is not modified"


@pytest.mark.parametrize("quality", [0, 96, 50.5, True, "85"])
def test_bad_quality_is_refused(picture: Image.Image, quality: object) -> None:
    with pytest.raises(ValueError, match=r"quality must be an integer between 1 and 95"):
        encode(picture, "JPEG", quality)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["BMP", "GIF", "", "tiff"])
def test_unsupported_output_format(picture: Image.Image, fmt: str) -> None:
    with pytest.raises(ValueError) as refused:
        encode(picture, fmt)
    assert str(refused.value) == f"unsupported output format {fmt!r} (choose JPEG, PNG, WEBP)"


def test_intermediate_jpeg_decodes_to_the_same_pixels_as_the_final_encode(
    picture: Image.Image,
) -> None:
    """Baseline vs progressive+optimized at one quality: the same coefficients, so the same
    pixels; only the bytes (and the time) differ."""
    data, fmt = encode_intermediate(picture, quality=95)
    assert fmt == "JPEG"
    with Image.open(io.BytesIO(data)) as opened:
        assert not opened.info.get("progressive") and not opened.info.get("progression")
    final = encode(picture, "JPEG", 95)
    assert np.array_equal(np.asarray(decode(data)), np.asarray(decode(final)))


def test_intermediate_keeps_alpha_as_png(translucent: Image.Image) -> None:
    data, fmt = encode_intermediate(translucent)
    assert fmt == "PNG"
    assert np.array_equal(np.asarray(decode(data)), np.asarray(translucent))
