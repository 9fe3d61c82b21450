"""Fit inside a box: keep the aspect ratio, never upscale, downsample with a quality filter."""

from __future__ import annotations

import logging

from PIL import Image

from ._colour import to_rgb
from ._geometry import dct_shrink, fitted_size
from ._orientation import exif_orientation, upright
from ._vips import RESAMPLED_MODES, jpeg_fitted, lanczos, usable, vips_error
from .limits import DEFAULT_LIMITS, Limits
from .loader import decode, stored_target
from .probe import inspect_image

log = logging.getLogger(__name__)

DEFAULT_BOX = (1024, 1024)
# Reductions larger than this start with a cheap integer box reduction (see _reduced).
REDUCING_GAP = 2.0
# JPEG modes libvips decodes straight into the resize; CMYK goes through Pillow.
_STREAMED_JPEG_MODES = frozenset({"RGB", "L"})


def fit_within(image: Image.Image, box: tuple[int, int] = DEFAULT_BOX) -> Image.Image:
    """Return `image` scaled down to fit `box`, or `image` itself if it already fits.

    Lanczos3, the sharpest of the usual antialiasing filters, through libvips (processing._vips):
    1920x1080 -> 1024x576 in ~4.8 ms on one core, where Pillow takes ~22 ms for LANCZOS and
    ~9.5 ms for the blurrier HAMMING. Modes libvips cannot take as 8-bit bands (I;16, F, P, 1)
    fall back to Pillow's LANCZOS (after open_image every photo is RGB or RGBA), as does a
    process that cannot use libvips (processing._vips.usable).
    """
    target = fitted_size(image.size, box)
    if target == image.size:
        return image
    if image.mode not in RESAMPLED_MODES:
        # No reducing_gap: Image.reduce refuses some of these modes (I;16).
        return image.resize(target, Image.Resampling.LANCZOS)
    if not usable():
        return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    return lanczos(_reduced(image, target), target)


def resize_bytes(
    data: bytes, box: tuple[int, int] = DEFAULT_BOX, limits: Limits = DEFAULT_LIMITS
) -> Image.Image:
    """fit_within(open_image(data, box=box), box), in one pass for a JPEG.

    A JPEG in YCbCr or grey is decoded by libvips at the DCT scale open_image would draft and
    resampled as it streams, so a 4K photo's 1920x1080 intermediate is never built: ~7 ms less
    per 4K JPEG on a worker (docs/PERFORMANCE.md). Orientation and colour profile are applied
    to the fitted image; any other input takes open_image + fit_within.
    """
    info, header = inspect_image(data, limits, keep_open=True)
    assert header is not None
    if info.format == "JPEG" and header.mode in _STREAMED_JPEG_MODES and usable():
        orientation = exif_orientation(header)
        target = stored_target(header.size, box, orientation)
        fitted = _streamed_jpeg(data, header.size, target) if target is not None else None
        if fitted is not None:
            if "icc_profile" in header.info:
                fitted.info["icc_profile"] = header.info["icc_profile"]
            return to_rgb(upright(fitted, orientation), "JPEG")
    image = decode(info, header, data, box=box, limits=limits)
    del header  # the decoded original: free it before resampling (160 MB for a 7000x7000 RGBA)
    return fit_within(image, box)


def _streamed_jpeg(
    data: bytes, size: tuple[int, int], target: tuple[int, int]
) -> Image.Image | None:
    """jpeg_fitted, or None when libjpeg warned (or reported a layout the stream does not
    take): then Pillow decodes the file and judges it.

    Pillow is the one judge of damaged files, so both paths accept and refuse the same files
    with the same reasons (libvips' error text is also process-wide: under threads another
    call's message can show up in it). Only damaged files pay for the second decode.
    """
    try:
        return jpeg_fitted(data, dct_shrink(size, target), target)
    except vips_error() as exc:
        log.info("libvips did not stream a JPEG (%s); Pillow decodes it", str(exc).strip())
        return None


def _reduced(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Shrink by an integer factor with a box filter, leaving at least REDUCING_GAP for lanczos3.

    What Pillow's reducing_gap does. It matters for large non-JPEG inputs (a 50 MP PNG): the
    box reduction is cheap and the full-size pixels are never copied for libvips.
    """
    ratio = min(image.width / target[0], image.height / target[1])
    factor = int(ratio / REDUCING_GAP)
    return image.reduce(factor) if factor > 1 else image
