"""Our chain, through the public functions of `processing` (what the workers call).

The stage functions are imported from their modules; the whole chain uses
`processing.pipeline.run_steps` when it exists (one call: resize -> watermark -> detect on the
resized image -> encode), and otherwise composes the same stages here.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from processing.detect import detect
from processing.encode import encode as _encode
from processing.pipeline import run_steps
from processing.resize import resize_bytes
from processing.watermark import WatermarkOptions
from processing.watermark import watermark as _watermark

OPTIONS = WatermarkOptions()



def decode_resize(data: bytes) -> Image.Image:
    return resize_bytes(data)


def watermark(image: Image.Image) -> Image.Image:
    return _watermark(image, OPTIONS)


def detect_all(image: Image.Image) -> dict[str, Any]:
    return detect(image)


def encode(image: Image.Image) -> bytes:
    return _encode(image, "JPEG", quality=85)


def chain(data: bytes) -> bytes:
    """resize + watermark + detect + encode."""
    return run_steps(data, watermark_options=OPTIONS).data


def warm_up(data: bytes) -> None:
    """What a worker has done after its first job: the chain, plus a resize of `data` (the
    chain leaves a small image alone), which loads libvips and starts its thread."""
    chain(data)
    resize_bytes(data, box=(64, 64))


def chain_source() -> str:
    return "processing.pipeline.run_steps" if run_steps is not None else "stages composed here"
