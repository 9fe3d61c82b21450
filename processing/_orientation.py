"""EXIF orientation: which way up a photo is meant to be shown.

Cameras store the sensor's pixels and record how to turn them (tag 0x0112, values 1-8). Every
size we report (probe) and every image we return (open_image, resize_bytes) is as displayed.
Pillow's TIFF plugin is the exception that does this itself: it reports the displayed size on
open, turns the pixels on load and drops the tag, so TIFFs need nothing from here.
"""

from __future__ import annotations

from PIL import Image

# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_AXES = frozenset({5, 6, 7, 8})


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) still to apply to `image`, 1 when absent or unreadable.

    A damaged EXIF block is common (editors, messengers) and must not fail the photo.
    """
    try:
        return _valid(image.getexif().get(0x0112, 1))
    except Exception:  # Pillow's EXIF parser raises assorted errors on junk
        return 1


def header_orientation(image: Image.Image) -> int:
    """exif_orientation for an opened image, without decoding any pixels.

    PNG is the one format whose getexif() can decode the image: when no eXIf chunk came before
    the pixel data it loads them to look for one after (every PNG without EXIF, that is). So a
    PNG's orientation is read from the chunks before the pixels only; a PNG that keeps its EXIF
    after them is reported as stored (open_image still turns it).
    """
    if image.format != "PNG":
        return exif_orientation(image)
    raw = image.info.get("exif")
    if not raw:
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        return _valid(exif.get(0x0112, 1))
    except Exception:
        return 1


def _valid(value: object) -> int:
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """`image` as it should be shown, given its EXIF orientation (as ImageOps.exif_transpose)."""
    return image.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else image


def displayed_size(image: Image.Image) -> tuple[int, int]:
    """The size `image` (opened, not loaded) is shown at, without decoding any pixels."""
    width, height = image.size
    if image.format != "TIFF" and header_orientation(image) in SWAPS_AXES:
        return height, width
    return width, height
