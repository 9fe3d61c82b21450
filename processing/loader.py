"""open_image(): the workers' full open. Validates exactly like probe(), then decodes the first
frame, applies the EXIF orientation and normalises to 8-bit sRGB RGB/RGBA."""

from __future__ import annotations

from PIL import Image

from ._colour import to_rgb
from ._geometry import fitted_size
from ._orientation import SWAPS_AXES, exif_orientation, upright
from ._pillow import decoding
from .limits import DEFAULT_LIMITS, Limits
from .probe import ProbeResult, inspect_image


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
    return decode(info, image, box=box)


def decode(
    info: ProbeResult, image: Image.Image, *, box: tuple[int, int] | None = None
) -> Image.Image:
    """open_image's decoding, for an image inspect_image(keep_open=True) has already checked."""
    with decoding(info.format, (info.width, info.height)):
        if box is not None and info.format == "JPEG":
            target = stored_target(image.size, box, exif_orientation(image))
            if target is not None:
                image.draft("RGB", target)  # must come before load()
        image.load()
        # Read after load(): Pillow's TIFF loader turns the pixels itself and drops the tag.
        orientation = exif_orientation(image)
    return to_rgb(upright(image, orientation), info.format)


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
