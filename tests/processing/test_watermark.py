"""watermark(): placement, readability, logo, opacity, validation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageChops

from processing.errors import InvalidStep
from processing.watermark import POSITIONS, WatermarkOptions, watermark

from .images import photo, save

W, H = 1024, 576


@pytest.fixture
def picture() -> Image.Image:
    return photo((W, H))


def changed_box(before: Image.Image, after: Image.Image) -> tuple[int, int, int, int]:
    box = ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox()
    assert box is not None, "the watermark changed nothing"
    return box


def changed_in(before: Image.Image, after: Image.Image, region: tuple[int, int, int, int]) -> bool:
    return ImageChops.difference(before.crop(region), after.crop(region)).getbbox() is not None


def test_default_is_bottom_right_and_far_pixels_are_untouched(picture: Image.Image) -> None:
    marked = watermark(picture)
    left, top, right, bottom = changed_box(picture, marked)
    assert left > W / 2 and top > H * 3 / 4
    assert right <= W and bottom <= H
    assert not changed_in(picture, marked, (0, 0, W // 2, H // 2))
    assert marked.size == picture.size and marked.mode == "RGB"


@pytest.mark.parametrize(
    ("position", "centre_x", "centre_y"),
    [
        ("top-left", (0, W / 3), (0, H / 3)),
        ("top-right", (W * 2 / 3, W), (0, H / 3)),
        ("bottom-left", (0, W / 3), (H * 2 / 3, H)),
        ("bottom-right", (W * 2 / 3, W), (H * 2 / 3, H)),
        ("center", (W / 3, W * 2 / 3), (H / 3, H * 2 / 3)),
    ],
)
def test_each_position_places_the_mark_there(
    picture: Image.Image,
    position: str,
    centre_x: tuple[float, float],
    centre_y: tuple[float, float],
) -> None:
    marked = watermark(picture, WatermarkOptions(position=position))
    left, top, right, bottom = changed_box(picture, marked)
    assert centre_x[0] <= (left + right) / 2 <= centre_x[1]
    assert centre_y[0] <= (top + bottom) / 2 <= centre_y[1]
    assert (right - left) < W / 2, "a single mark, not a tiling"


def test_tiled_covers_every_region(picture: Image.Image) -> None:
    marked = watermark(picture, WatermarkOptions(position="tiled"))
    for region in [
        (0, 0, W // 2, H // 2),
        (W // 2, 0, W, H // 2),
        (0, H // 2, W // 2, H),
        (W // 2, H // 2, W, H),
    ]:
        assert changed_in(picture, marked, region), region
    assert set(POSITIONS) == {
        "top-left", "top-right", "bottom-left", "bottom-right", "center", "tiled",
    }


def test_text_scale_is_relative_to_the_shorter_side(picture: Image.Image) -> None:
    small = changed_box(picture, watermark(picture, WatermarkOptions(scale=0.03)))
    large = changed_box(picture, watermark(picture, WatermarkOptions(scale=0.1)))
    assert (large[3] - large[1]) > 2.5 * (small[3] - small[1])
    assert 0.08 * H <= large[3] - large[1] <= 0.14 * H


@pytest.mark.parametrize("colour", ["white", "black"])
def test_readable_on_light_and_dark_photos(colour: str) -> None:
    blank = Image.new("RGB", (800, 600), colour)
    marked = np.asarray(watermark(blank, WatermarkOptions(opacity=0.8))).astype(int)
    if colour == "white":
        assert marked.min() < 120, "the dark outline must show on white"
    else:
        assert marked.max() > 150, "the light fill must show on black"


def test_opacity_scales_the_effect(picture: Image.Image) -> None:
    def strength(opacity: float) -> float:
        marked = watermark(picture, WatermarkOptions(opacity=opacity))
        return float(np.asarray(ImageChops.difference(picture, marked)).astype(int).sum())

    assert 0 < strength(0.2) < strength(0.6) < strength(1.0)


def test_opacity_zero_leaves_the_image_unchanged(picture: Image.Image) -> None:
    marked = watermark(picture, WatermarkOptions(opacity=0))
    assert marked.tobytes() == picture.tobytes()


def test_logo_only(picture: Image.Image) -> None:
    logo = save(Image.new("RGB", (200, 100), (255, 0, 0)), "PNG")
    options = WatermarkOptions(text=None, logo=logo, position="top-left", opacity=1.0)
    marked = watermark(picture, options)
    left, top, right, bottom = changed_box(picture, marked)
    assert left < W / 4 and top < H / 4
    assert marked.getpixel(((left + right) // 2, (top + bottom) // 2)) == (255, 0, 0)
    # 2x the text height (scale 0.05 of 576 = 29 px), keeping the logo's 2:1 aspect.
    assert 50 <= bottom - top <= 64 and 100 <= right - left <= 128


def test_logo_with_alpha_and_text(picture: Image.Image) -> None:
    logo_image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    logo_image.paste((0, 0, 255, 255), (16, 16, 48, 48))
    logo = save(logo_image, "PNG")
    text_only = changed_box(picture, watermark(picture, WatermarkOptions(opacity=1.0)))
    both = changed_box(picture, watermark(picture, WatermarkOptions(logo=logo, opacity=1.0)))
    assert (both[2] - both[0]) > (text_only[2] - text_only[0])


def test_rgba_image_stays_rgba_and_transparent_areas_get_the_mark() -> None:
    clear = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    marked = watermark(clear, WatermarkOptions(opacity=1.0))
    assert marked.mode == "RGBA"
    alpha = np.asarray(marked.getchannel("A"))
    assert alpha[200:, 200:].max() > 200
    assert alpha[:150, :200].max() == 0


def test_the_input_is_not_modified(picture: Image.Image) -> None:
    before = picture.tobytes()
    watermark(picture, WatermarkOptions(position="tiled"))
    watermark(picture)
    assert picture.tobytes() == before


def _marked(text: str) -> bytes:
    blank = Image.new("RGB", (400, 200), (90, 90, 90))
    return watermark(blank, WatermarkOptions(text=text, position="center", opacity=1.0)).tobytes()


# Characters no font of ours has (Unicode's private use area): each renders as the font's
# "missing glyph" box, so two of them look the same.
TOFU = "\ue000"


def test_non_latin_text_renders_its_own_glyphs() -> None:
    assert _marked(TOFU) == _marked("\ue001"), "precondition: the missing-glyph box"
    tofu = _marked(TOFU)
    letters = "éÜïøßЖяΩλ"  # accented Latin, Cyrillic, Greek
    rendered = {letter: _marked(letter) for letter in letters}
    missing = [letter for letter, image in rendered.items() if image == tofu]
    assert missing == [], f"drawn as missing-glyph boxes: {missing}"
    assert len(set(rendered.values())) == len(letters), "each letter has its own glyph"
    assert rendered["é"] != _marked("e") and rendered["Ü"] != _marked("U"), "accents drawn"


def test_tiny_image_is_marked_without_error() -> None:
    tiny = Image.new("RGB", (14, 25), "grey")
    marked = watermark(tiny, WatermarkOptions(opacity=1.0))
    assert marked.size == (14, 25)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"opacity": 1.5}, "watermark opacity must be between 0 and 1 (got 1.5)"),
        ({"opacity": -0.1}, "watermark opacity must be between 0 and 1 (got -0.1)"),
        ({"opacity": "half"}, "watermark opacity must be a number (got 'half')"),
        ({"scale": 0.9}, "watermark scale must be between 0.01 and 0.5 (got 0.9)"),
        (
            {"position": "middle"},
            "watermark position must be one of top-left, top-right, bottom-left, "
            "bottom-right, center, tiled (got 'middle')",
        ),
        ({"text": None}, "watermark needs a text or a logo"),
        ({"text": "   "}, "watermark needs a text or a logo"),
        ({"text": "x" * 201}, "watermark text must be at most 200 characters (got 201)"),
        ({"logo": b"%PDF-1.4"}, "watermark logo: unsupported format (PDF)"),
    ],
)
def test_bad_options_are_refused_with_a_readable_message(options: dict, message: str) -> None:
    with pytest.raises(InvalidStep) as refused:
        WatermarkOptions(**options)
    assert str(refused.value) == message
    assert isinstance(refused.value, ValueError)
