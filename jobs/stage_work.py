"""What each stage does: read its input from storage, call processing/, write its output.

No state changes here (services.py records them); every function is safe to run twice for
the same job because its output key is deterministic.
"""

from collections.abc import Callable

from django.conf import settings
from PIL.Image import Image

import processing
from jobs import storage
from jobs.models import Job, StageRun
from jobs.services import StageOutput, upload_limits
from jobs.stages import DETECT, FILTERS, RESIZE, WATERMARK, input_stage

# Between stages images travel as high-quality JPEG (PNG when they have alpha): small and fast
# to write, and the loss at q95 is invisible after the final encode.
INTERMEDIATE_QUALITY = 95


class MissingInput(Exception):
    """A stage's input is gone from storage (deleted): retrying cannot bring it back."""


def _input_bytes(job: Job, stage: str) -> bytes:
    source = input_stage(job.plan, stage)
    if source is None:
        return _read(job.original_key, "the original image")
    key = (
        StageRun.objects.filter(job=job, run=job.run, stage=source, status=StageRun.Status.DONE)
        .values_list("output_key", flat=True).first()
    )
    if not key:
        raise MissingInput(f"{stage} needs the output of {source}, which is missing")
    return _read(key, f"the output of {source}")


def _read(key: str, what: str) -> bytes:
    # Both local files and django-storages' S3 raise FileNotFoundError for a missing object;
    # an unreachable S3 raises something else and stays a transient, retried error.
    try:
        return storage.read_bytes(key)
    except FileNotFoundError:
        raise MissingInput(f"{what} is missing from storage ({key})") from None


def _write_intermediate(job: Job, stage: str, image: Image) -> StageOutput:
    fmt = "PNG" if image.mode == "RGBA" else "JPEG"
    data = processing.encode(image, fmt, quality=INTERMEDIATE_QUALITY)
    key = storage.stage_output_key(job.id, stage, processing.extension(fmt))
    storage.write_bytes(key, data)
    return StageOutput(output_key=key, width=image.width, height=image.height)


def resize(job: Job) -> StageOutput:
    image = processing.resize_bytes(_input_bytes(job, RESIZE), limits=upload_limits())
    return _write_intermediate(job, RESIZE, image)


def apply_filters(job: Job) -> StageOutput:
    image = processing.open_image(_input_bytes(job, FILTERS), limits=upload_limits())
    image = processing.apply_steps(image, processing.validate_steps(job.steps))
    return _write_intermediate(job, FILTERS, image)


def watermark(job: Job) -> StageOutput:
    image = processing.open_image(_input_bytes(job, WATERMARK), limits=upload_limits())
    options = processing.WatermarkOptions(text=settings.PHOTOPIPE["WATERMARK_TEXT"])
    marked = processing.watermark(image, options)
    data = processing.encode(
        marked, job.output_format, quality=settings.PHOTOPIPE["OUTPUT_QUALITY"]
    )
    key = storage.stage_output_key(job.id, "result", processing.extension(job.output_format))
    storage.write_bytes(key, data)
    return StageOutput(output_key=key, width=marked.width, height=marked.height)


def detect(job: Job) -> StageOutput:
    image = processing.open_image(_input_bytes(job, DETECT), limits=upload_limits())
    return StageOutput(detections=processing.detect(image))


STAGE_WORK: dict[str, Callable[[Job], StageOutput]] = {
    RESIZE: resize,
    FILTERS: apply_filters,
    WATERMARK: watermark,
    DETECT: detect,
}
