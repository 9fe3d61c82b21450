"""Normalisation of every decoded mode to 8-bit sRGB "RGB" or "RGBA".

Every later stage (filters, watermark, detectors, encoders) can then assume one of two modes.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms

from .errors import UnsupportedFormat

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_ICC_SPACE = {"L": "GRAY", "RGB": "RGB", "CMYK": "CMYK"}
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def to_rgb(image: Image.Image, fmt: str = "") -> Image.Image:
    """Return an 8-bit sRGB RGB or RGBA copy of `image` with no metadata in `info`.

    Alpha that is fully opaque is dropped: it carries nothing, and an RGB image lets the
    stages exchange compact JPEG intermediates instead of PNG.
    """
    icc = image.info.get("icc_profile")
    base, alpha = _split_alpha(image, fmt)
    if icc:
        base = _to_srgb(base, icc)
    if base.mode != "RGB":
        base = base.convert("RGB")
    if alpha is not None and alpha.getextrema() != (255, 255):
        base.putalpha(alpha)
    base.info = {}
    return base


def _split_alpha(image: Image.Image, fmt: str) -> tuple[Image.Image, Image.Image | None]:
    """8-bit colour part in L, RGB or CMYK (what LittleCMS takes), plus the alpha band."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        return _sixteen_to_eight(image), None
    if mode == "F":
        return _float_to_eight(image), None
    if mode in ("L", "RGB", "CMYK") and "transparency" not in image.info:
        return image, None
    if mode == "1":
        return image.convert("L"), None
    if mode in ("LA", "La"):
        la = image.convert("LA") if mode == "La" else image
        return la.getchannel("L"), la.getchannel("A")
    if mode in ("P", "PA", "L", "RGB", "RGBA", "RGBa") or "transparency" in image.info:
        # Palette and tRNS transparency (a palette index or a single colour) become alpha.
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    if mode in ("RGBX", "YCbCr", "HSV", "LAB"):
        return image.convert("RGB"), None
    raise UnsupportedFormat(f"unsupported format ({fmt or 'image'} in {mode} colour mode)")


def _sixteen_to_eight(image: Image.Image) -> Image.Image:
    """Scale 16-bit samples down by 256 (65535 -> 255, 32768 -> 128).

    Pillow's own convert("L") clips everything above 255 to white, which is wrong for data
    that uses the 16-bit range. Mode "I" is treated as 16-bit data, which is how PNG and TIFF
    16-bit greyscale reach it.
    """
    samples = np.asarray(image)
    if image.mode == "I":
        samples = np.clip(samples, 0, 65535)
    return Image.fromarray((samples.astype(np.uint32) >> 8).astype(np.uint8), "L")


def _float_to_eight(image: Image.Image) -> Image.Image:
    """Float data has no fixed range: 0..1 (most common), 0..255, 0..65535, else min-max."""
    samples = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(samples.min(initial=0.0)), float(samples.max(initial=0.0))
    if low >= 0 and high <= 1.0:
        samples = samples * 255.0
    elif low >= 0 and high <= 255.0:
        pass
    elif low >= 0 and high <= 65535.0:
        samples = np.floor(samples / 256.0)  # the same as 16-bit integers: 255 -> 0, 256 -> 1
    else:
        samples = (samples - low) * (255.0 / (high - low))
    return Image.fromarray(np.clip(np.rint(samples), 0, 255).astype(np.uint8), "L")


def _to_srgb(base: Image.Image, icc: bytes) -> Image.Image:
    """Convert through the embedded profile; any problem with the profile drops it.

    A broken or mismatched profile is common in the wild and never a reason to fail a photo.
    """
    transform = _transform(icc, base.mode)
    if transform is None:
        return base
    try:
        return ImageCms.applyTransform(base, transform) or base
    except (ImageCms.PyCMSError, OSError, ValueError):
        return base


@lru_cache(maxsize=32)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached profile -> sRGB transform, or None when no conversion is needed or possible.

    Building a transform costs milliseconds, and most uploads share a handful of profiles.
    NOCACHE makes one transform safe to share between worker threads.
    """
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = profile.profile.xcolor_space.strip()
        if space != _ICC_SPACE.get(mode):
            return None  # the profile does not describe these pixels
        if space == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None  # already sRGB: skip the work
        return ImageCms.buildTransform(
            profile,
            _SRGB,
            mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.NOCACHE,
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
