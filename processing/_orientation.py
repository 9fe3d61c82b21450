"""EXIF orientation: which way up a photo is meant to be shown.

Cameras store the sensor's pixels and record how to turn them (EXIF tag 0x0112, values 1-8;
some editors write it in XMP instead). Every size we report (probe) and every image we return
(open_image, resize_bytes) is as displayed. Pillow's TIFF plugin does part of this itself: it
reports the displayed size on open for tag 274 (not for XMP), and turns the pixels on load and
drops the orientation, so the loader reads it after load().
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from ._headers import png_exif_chunk

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
    """The EXIF orientation (1-8) still to apply to `image`, 1 when absent or unreadable."""
    return _orientation_in(image.getexif)


def _orientation_in(read_exif: Callable[[], Image.Exif]) -> int:
    """The orientation tag of what `read_exif` returns, 1 when absent, invalid or unreadable.

    A damaged EXIF block is common (editors, messengers) and must not fail the photo.
    """
    try:
        value = read_exif().get(0x0112, 1)
    except Exception:  # Pillow's EXIF parser raises assorted errors on junk
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """`image` as it should be shown, given its EXIF orientation (as ImageOps.exif_transpose)."""
    return image.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else image


def displayed_size(image: Image.Image, data: bytes) -> tuple[int, int]:
    """The size `image` (opened from `data`, not loaded) is shown at. Decodes no pixels."""
    width, height = image.size
    if image.format == "TIFF":
        # Pillow has swapped the size for tag 274 already, not for an orientation only in XMP.
        turns = 0x0112 not in image.tag_v2 and exif_orientation(image) in SWAPS_AXES
    elif image.format == "PNG":
        turns = _png_orientation(image, data) in SWAPS_AXES
    else:
        turns = exif_orientation(image) in SWAPS_AXES
    return (height, width) if turns else (width, height)


def _png_orientation(image: Image.Image, data: bytes) -> int:
    """exif_orientation for a PNG that is not loaded, without loading it.

    PngImageFile.getexif() decodes the pixels when no eXIf chunk came before them, to look for
    one after. Instead the chunk headers are walked for it (no decompression) and it is put
    where load() would put it; the base class's getexif() then reads it, ImageMagick's raw
    profile or XMP from `info`, as Pillow would after loading.
    """
    if "exif" not in image.info:
        late = png_exif_chunk(data)
        if late is not None:
            image.info["exif"] = late
    return _orientation_in(lambda: Image.Image.getexif(image))
