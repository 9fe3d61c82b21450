"""The arrays detectors derive from one image, computed once per `detect()` call.

Converting a 1024x576 image to numpy, to grey and to thumbnails costs about 1.5 ms; with eight
detectors doing it separately that is a quarter of the detection budget. `detect()` opens a
`shared_frames()` scope and every detector asks `frame_of(image)`: inside the scope the frame is
cached by image identity (the image is alive for the whole call, so the id cannot be reused);
outside it (a detector called on its own) it is simply computed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cv2
import numpy as np
from PIL import Image

# Sharpness, pHash and the document heuristic look at a grey copy at most this big, so their
# figures do not depend on the size the image was resized to (and cost the same for any size).
ANALYSIS_MAX_SIDE = 512
# Colour statistics need only a thumbnail: 64x64 = 4096 samples.
COLOR_SIDE = 64

# id(source image) -> (source image, frame); the source is kept to detect a reused id.
_frames: ContextVar[dict[int, tuple[Image.Image, Frame]] | None] = ContextVar(
    "detect_frames", default=None
)


@dataclass
class Frame:
    """Lazily derived views of one RGB image; each is computed on first use."""

    image: Image.Image
    # Results one detector computes and another reuses (people reuse the faces), by name.
    memo: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def rgb(self) -> np.ndarray:
        """HxWx3 uint8, C-contiguous: what MediaPipe and OpenCV take."""
        return np.asarray(self.image)

    @cached_property
    def grey(self) -> np.ndarray:
        """Luma (BT.601) at most ANALYSIS_MAX_SIDE on the long side, area-averaged."""
        grey = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)
        height, width = grey.shape
        scale = ANALYSIS_MAX_SIDE / max(height, width)
        if scale < 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return grey

    @cached_property
    def small(self) -> np.ndarray:
        """COLOR_SIDE x COLOR_SIDE x 3 uint8 thumbnail (aspect ignored: only statistics)."""
        return cv2.resize(self.rgb, (COLOR_SIDE, COLOR_SIDE), interpolation=cv2.INTER_AREA)


@contextlib.contextmanager
def shared_frames() -> Iterator[None]:
    """Within this scope `frame_of` returns the same Frame for the same image object."""
    token = _frames.set({})
    try:
        yield
    finally:
        _frames.reset(token)


def frame_of(image: Image.Image) -> Frame:
    cache = _frames.get()
    if cache is None:
        return Frame(as_rgb(image))
    entry = cache.get(id(image))
    if entry is None or entry[0] is not image:
        entry = cache[id(image)] = (image, Frame(as_rgb(image)))
    return entry[1]


def as_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB for analysis. Transparency is composited on white, as `encode` shows it."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif image.mode == "La":  # premultiplied; Pillow converts it only to LA
        image = image.convert("LA")
    if image.mode in ("RGBA", "RGBa", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
