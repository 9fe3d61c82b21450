"""run_steps(): the whole chain in one call, for the embedded mode and the benchmarks.

The platform runs the same stages one queue at a time; this is the in-process equivalent:
open and fit the box (resize_bytes) -> detect on the resized image -> filters ->
watermark -> encode. Detection sees the photo as resized, before filters and the watermark
change it, exactly as the platform's detect stage does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .detect import detect as run_detectors
from .encode import encode, normalise_format
from .filters import Step, apply_steps, validate_steps
from .limits import DEFAULT_LIMITS, Limits
from .resize import DEFAULT_BOX, resize_bytes
from .watermark import WatermarkOptions, watermark


@dataclass
class PipelineResult:
    data: bytes
    format: str
    width: int
    height: int
    detections: dict[str, Any] = field(default_factory=dict)


def run_steps(
    data: bytes,
    *,
    steps: Sequence[Step] = (),
    box: tuple[int, int] = DEFAULT_BOX,
    watermark_options: WatermarkOptions | None = WatermarkOptions(),
    output_format: str = "JPEG",
    quality: int = 85,
    limits: Limits = DEFAULT_LIMITS,
    detect: bool = True,
) -> PipelineResult:
    """Process `data` end to end. `detect=False` skips detection (naive comparisons).

    `steps` may also be raw step items (names or {"name", "params"} dicts); they are validated
    first, so a bad step fails before any decoding work.
    """
    output_format = normalise_format(output_format)
    validated = validate_steps(list(steps))
    resized = resize_bytes(data, box, limits)
    detections: dict[str, Any] = {}
    if detect:
        detections = run_detectors(resized)
    image = apply_steps(resized, validated, limits=limits) if validated else resized
    if watermark_options is not None:
        image = watermark(image, watermark_options)
    encoded = encode(image, output_format, quality)
    return PipelineResult(
        data=encoded,
        format=output_format,
        width=image.width,
        height=image.height,
        detections=detections,
    )
