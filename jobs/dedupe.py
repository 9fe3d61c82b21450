"""Dedupe: an upload of the same bytes, by the same user, with the same steps and output
format as a job that completed reuses that job's result instead of running any stage.

The result object is copied under the new job's own prefix (``jobs/<id>/``), so deleting either
job (the API, purge_jobs, retention: all delete by prefix) never breaks the other. Detections
and their facts are copied too. Anonymous uploads are never deduplicated: "the same user"
cannot be told apart without an account. Off with PHOTOPIPE_DEDUPE=0.
"""

import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings

import processing
from jobs import facts, storage
from jobs.models import Job

logger = logging.getLogger(__name__)

# What a reusing job copies from its source besides the result object.
COPIED_FIELDS = ("result_width", "result_height", "detections", *facts.FACT_FIELDS)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reusable_source(
    *, owner: Any, sha256: str, steps: Sequence[processing.Step], output_format: str
) -> Job | None:
    """The newest completed job of ``owner`` with these bytes and options, or None."""
    if not settings.PHOTOPIPE["DEDUPE"] or not getattr(owner, "is_authenticated", False):
        return None
    wanted = [step.to_dict() for step in steps]
    candidates = Job.objects.filter(
        owner=owner, original_sha256=sha256, output_format=output_format,
        status=Job.Status.COMPLETED,
    ).exclude(result_key="").order_by("-finished_at")
    # Steps are compared here, not in SQL: JSON equality is not portable, and the candidates
    # (one user's copies of one file) are few.
    return next((job for job in candidates[:20] if job.steps == wanted), None)


def copy_result(source: Job, job_id: uuid.UUID) -> dict[str, Any] | None:
    """Copy the source's result object to ``job_id``'s prefix; the job fields to set, or None
    when the source's result is gone (deleted meanwhile): then the job is processed."""
    extension = processing.extension(source.output_format)
    key = storage.stage_output_key(job_id, "result", extension)
    try:
        storage.write_bytes(key, storage.read_bytes(source.result_key))
    except Exception as error:  # noqa: BLE001 - any failure to copy only means: process it
        logger.info("job %s: cannot reuse %s (%s); processing it", job_id, source.pk, error)
        storage.delete_quietly(key)
        return None
    fields = {name: getattr(source, name) for name in COPIED_FIELDS}
    return {**fields, "result_key": key, "reused_from": source.pk}
