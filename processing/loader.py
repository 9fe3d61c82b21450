"""open_image(): the workers' full open. Validates exactly like probe(), then decodes the first
frame, applies the EXIF orientation and normalises to 8-bit sRGB RGB/RGBA."""

from __future__ import annotations

from PIL import Image

from ._colour import to_rgb
from ._geometry import fitted_size
from ._headers import TRUNCATED_JPEG_DATA
from ._orientation import SWAPS_AXES, exif_orientation, upright
from ._pillow import decoding
from ._vips import jpeg_warns, salvage
from .errors import CorruptImage
from .limits import DEFAULT_LIMITS, Limits
from .probe import ProbeResult, inspect_image

# libjpeg fills the blocks a cut file no longer has with zero coefficients: exactly mid-grey
# (128 in every channel of YCbCr or grey, so of RGB too), from the cut to the last row.
_FILLER = 128


def open_image(
    data: bytes, *, box: tuple[int, int] | None = None, limits: Limits = DEFAULT_LIMITS
) -> Image.Image:
    """Decode `data` into an upright 8-bit sRGB RGB or RGBA image (first frame if animated).

    With `box`, a JPEG is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain when that still
    leaves at least the size fit_within(box) will produce: a 4000x3000 photo bound for 1024
    pixels is decoded at 2000x1500 instead of being decoded in full and thrown away.
    """
    info, image = inspect_image(data, limits, keep_open=True)
    assert image is not None
    return decode(info, image, data, box=box, limits=limits)


def decode(
    info: ProbeResult,
    image: Image.Image,
    data: bytes,
    *,
    box: tuple[int, int] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Image.Image:
    """open_image's decoding, for an image inspect_image(keep_open=True) has already checked
    (`data` is what it was opened from).

    A damaged file is CorruptImage unless limits.accept_damaged: what Pillow refuses (a cut
    PNG) is then salvaged by libvips, and a JPEG whose data ends early keeps its filler.
    """
    orientation = 1
    try:
        with decoding(info.format, (info.width, info.height)):
            if box is not None and info.format == "JPEG":
                target = stored_target(image.size, box, exif_orientation(image))
                if target is not None:
                    image.draft("RGB", target)  # must come before load()
            image.load()
            # Read after load(): Pillow's TIFF loader turns the pixels itself and drops the tag.
            orientation = exif_orientation(image)
    except CorruptImage:
        salvaged = salvage(data) if limits.accept_damaged else None
        if salvaged is None:
            raise
        if "icc_profile" in image.info:
            salvaged.info["icc_profile"] = image.info["icc_profile"]
        image, orientation = salvaged, exif_orientation(image)
    else:
        if info.format == "JPEG" and not limits.accept_damaged and ends_early(image, data):
            raise CorruptImage(TRUNCATED_JPEG_DATA)
    return to_rgb(upright(image, orientation), info.format)


def ends_early(image: Image.Image, data: bytes) -> bool:
    """Whether a decoded JPEG's data ended before its frame was filled.

    Pillow decodes such a file without a word (libjpeg only warns, and Pillow shows no
    warnings): the rows past the cut are filler. So: the last row is exactly the filler grey
    (a test of one row, nearly free), and only then, to tell a photo that really ends in
    that grey, libjpeg is asked through libvips whether it warns on the file. CMYK files
    (whose filler is not grey) are not judged.
    """
    if image.mode not in ("RGB", "L"):
        return False
    last_row = image.crop((0, image.height - 1, image.width, image.height))
    extrema = last_row.getextrema()
    bands = extrema if image.mode == "RGB" else (extrema,)
    if any(band != (_FILLER, _FILLER) for band in bands):
        return False
    return bool(jpeg_warns(data))


def stored_target(
    size: tuple[int, int], box: tuple[int, int], orientation: int
) -> tuple[int, int] | None:
    """The size fit_within(box) will give, in stored (unrotated) pixels; None if it fits.

    The JPEG decoder works on the stored pixels, so for orientations that swap the axes the
    fitted size is computed on the upright size and swapped back.
    """
    swapped = orientation in SWAPS_AXES
    upright_size = (size[1], size[0]) if swapped else size
    target = fitted_size(upright_size, box)
    if target == upright_size:
        return None
    return (target[1], target[0]) if swapped else target
