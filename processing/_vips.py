"""libvips, for what Pillow is slow at: high-quality downsampling, and streaming a JPEG into it.

Pillow's resampling is plain C without SIMD: LANCZOS from a 1920x1080 JPEG draft to 1024x576
costs ~22 ms on one core and HAMMING ~9.5 ms; libvips' lanczos3 (vectorised) ~4.8 ms, with
Pillow LANCZOS's quality. For a JPEG libvips also decodes at the DCT scale and resamples the
rows as they are decoded, so the 1920x1080 intermediate of a 4K photo never exists in full
(fewer megabytes touched, which is most of what a cold worker pays). Figures and method in
docs/PERFORMANCE.md. The wheel `pyvips-binary` carries libvips itself: no apt package, nothing
fetched at run time.

libvips is set up on first use rather than at import, so a process that forks (a dramatiq
master, gunicorn) normally does so before libvips starts its threads. A process forked after
that cannot use libvips (its worker threads did not survive the fork: the first operation
would wait for them forever); `usable()` says so and the callers resample with Pillow instead.
"""

from __future__ import annotations

import logging
import os
import threading
from types import ModuleType
from typing import Any

from PIL import Image

_lock = threading.Lock()
_module: ModuleType | None = None
_owner_pid: int | None = None  # the process that started libvips

# Pillow modes libvips resamples as that many 8-bit bands. RGBA and LA go through their
# premultiplied forms, as Pillow's own resize does, so the colour of fully transparent pixels
# cannot bleed into the visible ones.
_BANDS = {"L": 1, "La": 2, "RGB": 3, "RGBa": 4}
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}
RESAMPLED_MODES = frozenset(_BANDS) | frozenset(_PREMULTIPLIED)
# Rows copied at a time when handing Pillow's pixels to libvips (see _pixel_bytes).
_STRIP_ROWS = 64


def usable() -> bool:
    """False only in a process forked from one that had started libvips (see above)."""
    return _owner_pid is None or _owner_pid == os.getpid()


def _pyvips() -> ModuleType:
    global _module, _owner_pid
    with _lock:
        if _module is None:
            import pyvips

            # One thread per resize: a worker's parallelism is its jobs (threads x processes);
            # a libvips thread pool inside each job would oversubscribe the cores.
            pyvips.concurrency_set(1)
            # The operation cache would keep recent images' pixels alive for reuse that never
            # comes (every job is a new image).
            pyvips.cache_set_max(0)
            # pyvips forwards libvips' chatter ("reducev: using vector path", once per call)
            # as INFO; a worker logs its jobs at INFO.
            logging.getLogger("pyvips").setLevel(logging.WARNING)
            _module = pyvips
            _owner_pid = os.getpid()
    return _module


def vips_error() -> type[Exception]:
    """pyvips.Error, the one exception libvips raises (bad data included)."""
    return _pyvips().Error


def lanczos(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` (a mode in RESAMPLED_MODES) resampled to exactly `size` with lanczos3."""
    pyvips = _pyvips()
    premultiplied = _PREMULTIPLIED.get(image.mode)
    work = image.convert(premultiplied) if premultiplied else image
    bands = _BANDS[work.mode]
    source = pyvips.Image.new_from_memory(
        _pixel_bytes(work, bands), work.width, work.height, bands, "uchar"
    )
    result = _to_pillow(_resampled(source, size), work.mode)
    return result.convert(image.mode) if premultiplied else result


def jpeg_fitted(data: bytes, shrink: int, size: tuple[int, int]) -> Image.Image | None:
    """Decode a JPEG (YCbCr/RGB or grey) at 1/`shrink` in the DCT domain, then lanczos3 to
    `size`, as one stream. The result is "RGB" or "L", exactly as stored (no EXIF rotation,
    no colour management); None for any other layout libjpeg reports (Pillow's to handle).

    Raises vips_error() at libjpeg's first warning: only a clean file streams. A damaged one
    is for Pillow to judge (resize.resize_bytes), since libvips gives up on files Pillow
    recovers (after ~100 warnings, whatever `fail_on` says) and accepts some Pillow refuses.
    """
    pyvips = _pyvips()
    source = pyvips.Image.jpegload_buffer(
        data, shrink=shrink, access="sequential", fail_on="warning"
    )
    if source.format != "uchar" or source.bands not in (1, 3):
        return None
    return _to_pillow(_resampled(source, size), "L" if source.bands == 1 else "RGB")


def jpeg_warns(data: bytes) -> bool | None:
    """Whether libjpeg warns (or fails) on any part of `data`, a JPEG; None if this process
    cannot use libvips. Decoded at 1/8 scale: the entropy decoding, where data that ends early
    shows, is all done, the inverse DCT is nearly free."""
    if not usable():
        return None
    pyvips = _pyvips()
    try:
        pyvips.Image.jpegload_buffer(data, shrink=8, access="sequential", fail_on="warning").avg()
    except pyvips.Error:
        return True
    return False


# libvips band formats of salvaged images, and Pillow modes by band count.
_SALVAGE_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def salvage(data: bytes) -> Image.Image | None:
    """Decode as much of a damaged file as there is (libvips, fail_on="none": missing rows
    are filler), for Limits(accept_damaged=True) when Pillow refuses the file. Per call, unlike
    Pillow's process-wide LOAD_TRUNCATED_IMAGES. None when libvips cannot read it either.
    """
    if not usable():
        return None
    pyvips = _pyvips()
    try:
        image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="none")
        if image.bands not in _SALVAGE_MODES:
            return None
        if image.format == "ushort":
            image = (image >> 8).cast("uchar")
        elif image.format != "uchar":
            return None
        return _to_pillow(image, _SALVAGE_MODES[image.bands])
    except pyvips.Error:
        return None


def _resampled(source: Any, size: tuple[int, int]) -> Any:
    """lanczos3 to `size`. Over 2x, libvips first shrinks by an integer factor with a box
    filter and finishes with lanczos3 over the last 2x or more (Pillow's reducing_gap=2.0)."""
    if (source.width, source.height) == size:
        return source
    resized = source.resize(
        size[0] / source.width, vscale=size[1] / source.height, kernel="lanczos3"
    )
    if (resized.width, resized.height) != size:  # libvips rounds the target size itself
        raise RuntimeError(
            f"libvips resized {source.width}x{source.height} to "
            f"{resized.width}x{resized.height}, not {size[0]}x{size[1]}"
        )
    return resized


def _to_pillow(image: Any, mode: str) -> Image.Image:
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


def _pixel_bytes(image: Image.Image, bands: int) -> bytearray:
    """The pixels packed as libvips reads them, copied in strips.

    Image.tobytes() joins its chunks at the end, so it briefly holds the pixels twice: 50 MB
    for a 4K image. Strips keep the extra to one strip.
    """
    row = image.width * bands
    pixels = bytearray(row * image.height)
    for top in range(0, image.height, _STRIP_ROWS):
        bottom = min(top + _STRIP_ROWS, image.height)
        pixels[top * row : bottom * row] = image.crop((0, top, image.width, bottom)).tobytes()
    return pixels
