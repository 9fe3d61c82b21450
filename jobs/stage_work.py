"""What each stage does with its input image: call processing/, write its output.

Each function takes the job, the bytes of the image it reads (the stage registry in
jobs/stages.py says which image that is) and the attempt's WorkControl, and returns a
StageOutput. No state changes here
(services.py records them) and no database access; every function is safe to run twice for
the same job because its output key is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from PIL.Image import Image

import processing
from jobs import storage
from jobs.facts import facts_from_detections
from jobs.limits import upload_limits

if TYPE_CHECKING:
    from jobs.models import Job

# Between stages images travel as high-quality JPEG (PNG when they have alpha): small and fast
# to write, and the loss at q95 is invisible after the final encode.
INTERMEDIATE_QUALITY = 95


@dataclass(frozen=True)
class StageOutput:
    """What a stage produced: an object later stages read, and values for the job row.

    ``job_fields`` may only name fields the stage declares in its ``writes`` (jobs/stages.py).
    ``data`` is what was written at ``output_key``, for the next stage's message
    (jobs/handoff.py).
    """

    output_key: str = ""
    job_fields: dict[str, Any] = field(default_factory=dict)
    data: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class WorkControl:
    """How long an attempt may work and how it learns that it should stop (the job was
    cancelled, deleted or reprocessed). Heavy work polls it and is killed when either fires."""

    deadline_s: float
    should_stop: Callable[[], bool] = lambda: False


def _write_intermediate(job: Job, stage: str, image: Image) -> StageOutput:
    # Baseline, not progressive+optimized: the same pixels for ~1/3 of the encode time and a
    # faster decode in the next stages (docs/PERFORMANCE.md, "Changes").
    data, fmt = processing.encode_intermediate(image, quality=INTERMEDIATE_QUALITY)
    key = storage.stage_output_key(job.id, stage, processing.extension(fmt))
    storage.write_bytes(key, data)
    return StageOutput(output_key=key, data=data)


def resize(job: Job, source: bytes, control: WorkControl) -> StageOutput:
    image = processing.resize_bytes(source, limits=upload_limits())
    return _write_intermediate(job, "resize", image)


def apply_filters(job: Job, source: bytes, control: WorkControl) -> StageOutput:
    # Heavy plans run in a child process that is killed at the deadline or when the job is
    # stopped: a C call inside OpenCV cannot be interrupted any other way.
    image = processing.run_filters(
        source, processing.validate_steps(job.steps), deadline_s=control.deadline_s,
        should_stop=control.should_stop, limits=upload_limits(),
    )
    return _write_intermediate(job, "filters", image)


def watermark(job: Job, source: bytes, control: WorkControl) -> StageOutput:
    image = processing.open_image(source, limits=upload_limits())
    options = processing.WatermarkOptions(text=settings.PHOTOPIPE["WATERMARK_TEXT"])
    marked = processing.watermark(image, options)
    data = processing.encode(
        marked, job.output_format, quality=settings.PHOTOPIPE["OUTPUT_QUALITY"]
    )
    key = storage.stage_output_key(job.id, "result", processing.extension(job.output_format))
    storage.write_bytes(key, data)
    return StageOutput(output_key=key, data=data, job_fields={
        "result_key": key, "result_width": marked.width, "result_height": marked.height,
    })


def detect(job: Job, source: bytes, control: WorkControl) -> StageOutput:
    image = processing.open_image(source, limits=upload_limits())
    detections = processing.detect(image)
    return StageOutput(job_fields={"detections": detections, **facts_from_detections(detections)})
