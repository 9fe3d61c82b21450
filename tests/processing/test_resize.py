"""fit_within / resize_bytes: inside the box, aspect kept, never upscaled, no aliasing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from processing.resize import DEFAULT_BOX, fit_within, resize_bytes

from .images import sample_bytes


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((4000, 3000), DEFAULT_BOX, (1024, 768)),
        ((3000, 4000), DEFAULT_BOX, (768, 1024)),
        ((5000, 1000), DEFAULT_BOX, (1024, 205)),
        ((2048, 2048), DEFAULT_BOX, (1024, 1024)),
        ((4000, 3000), (800, 200), (267, 200)),
        ((1025, 10), DEFAULT_BOX, (1024, 10)),
    ],
)
def test_fits_inside_the_box_keeping_the_aspect_ratio(
    size: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]
) -> None:
    resized = fit_within(Image.new("RGB", size, "white"), box)
    assert resized.size == expected
    assert resized.width <= box[0] and resized.height <= box[1]
    assert abs(resized.width / resized.height - size[0] / size[1]) < 0.01 * size[0] / size[1]


@pytest.mark.parametrize("size", [(640, 427), (1024, 1024), (10, 3000 // 3)])
def test_small_images_are_not_upscaled(size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, "white")
    assert fit_within(image).size == size


def test_default_box_is_1024() -> None:
    assert DEFAULT_BOX == (1024, 1024)


def test_resize_bytes_of_a_12_mp_jpeg(big_jpeg: bytes) -> None:
    image = resize_bytes(big_jpeg)
    assert image.size == (1024, 768)
    assert image.mode == "RGB"


def test_resize_bytes_leaves_a_small_photo_alone() -> None:
    assert resize_bytes(sample_bytes("rocket.jpg")).size == (640, 427)


def test_rgba_keeps_alpha_and_does_not_bleed_hidden_colour() -> None:
    # Transparent pixels hold pure green; premultiplied resampling must not let it tint
    # the visible red half.
    image = Image.new("RGBA", (2000, 1000), (0, 255, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 1000, 1000))
    resized = fit_within(image, (500, 500))
    assert resized.mode == "RGBA"
    r, g, b, a = resized.getpixel((245, 100))
    assert a == 255 and g < 5


def test_downsampling_is_filtered_not_nearest() -> None:
    # A one-pixel checkerboard halved must become flat grey; sampling every other pixel
    # (nearest neighbour) would give solid black or white.
    board = ((np.indices((2048, 2048)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = Image.fromarray(board, "L").convert("RGB")
    resized = np.asarray(fit_within(image, (1024, 1024))).astype(float)
    assert abs(resized.mean() - 127.5) < 3
    assert resized.std() < 8


@pytest.mark.parametrize("box", [(0, 100), (100,), "big", (100.5, 100), (True, 10)])
def test_bad_boxes_are_refused(box: object) -> None:
    with pytest.raises(ValueError, match="box must be"):
        fit_within(Image.new("RGB", (10, 10)), box)  # type: ignore[arg-type]
