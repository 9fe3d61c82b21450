"""Fit inside a box: keep the aspect ratio, never upscale, downsample with a quality filter."""

from __future__ import annotations

from PIL import Image

from ._geometry import fitted_size
from .limits import DEFAULT_LIMITS, Limits
from .loader import open_image

DEFAULT_BOX = (1024, 1024)


def fit_within(image: Image.Image, box: tuple[int, int] = DEFAULT_BOX) -> Image.Image:
    """Return `image` scaled down to fit `box`, or `image` itself if it already fits.

    HAMMING is Pillow's antialiased windowed filter with a one-pixel support: sharper than
    BILINEAR, no blocky artefacts like BOX, and at ~12 ms for 1920x1080 -> 1024x576 less than
    half the cost of LANCZOS (~29 ms, measured on one core), whose extra sharpness is hard to
    see at a 1.9x reduction. reducing_gap=2.0 first shrinks by an integer factor with a cheap
    box filter when the ratio is large (a non-JPEG input of any size), then finishes over at
    least 2x with HAMMING.
    """
    target = fitted_size(image.size, box)
    if target == image.size:
        return image
    return image.resize(target, Image.Resampling.HAMMING, reducing_gap=2.0)


def resize_bytes(
    data: bytes, box: tuple[int, int] = DEFAULT_BOX, limits: Limits = DEFAULT_LIMITS
) -> Image.Image:
    """open_image with the JPEG draft for `box`, then fit_within(box)."""
    return fit_within(open_image(data, box=box, limits=limits), box)
