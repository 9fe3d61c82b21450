"""Batches: many files in one request, one batch id, each file its own job.

Every file goes through ``services.job_submit`` like a single upload; a bad file (not an
image, too large, over a quota) is recorded with its own error and does not sink the others.
When no job of the batch is active any more, the batch finishes: one event on
``processed_images`` and one webhook (the batch's ``webhook_url``, signed with the owner's
secret), sent by the one check that sets ``finished_at`` under the batch's row lock.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.db.models.signals import post_save
from django.urls import reverse
from django.utils import timezone

import processing
from jobs import events, services, storage
from jobs.models import Batch, BatchItem, Job
from jobs.queueing import send_now
from jobs.quotas import QuotaExceeded, quota_check_upload

logger = logging.getLogger(__name__)

#: Most files one batch may carry (more: a 400; Django's own cap on file parts is 100).
MAX_FILES = 50


@dataclass(frozen=True)
class BatchFile:
    name: str
    data: bytes


class BatchRefused(Exception):
    """Not one file of the batch could be accepted; ``errors`` says why, file by file."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("no file of the batch was accepted")
        self.errors = errors


def batch_submit(
    *,
    files: Sequence[BatchFile],
    steps: Sequence[processing.Step] = (),
    output_format: str = "JPEG",
    webhook_url: str = "",
    owner: Any = None,
) -> Batch:
    """Create the batch and one job per acceptable file, in one transaction (the jobs' first
    stages are sent when it commits, so no job can finish before its batch exists)."""
    owner = owner if getattr(owner, "is_authenticated", False) else None
    stored: list[str] = []
    try:
        with transaction.atomic():
            batch = Batch.objects.create(owner=owner, webhook_url=webhook_url)
            for position, upload in enumerate(files):
                job, error = _submit_one(upload, steps, output_format, owner)
                if job is not None:
                    stored.append(job.original_key)
                BatchItem.objects.create(
                    batch=batch, position=position, filename=upload.name[:255], job=job,
                    error=error,
                )
            if not stored:
                raise BatchRefused([
                    {"file": item.filename, **item.error} for item in batch.items.all()
                ])
    except Exception:
        for key in stored:  # the jobs were rolled back: so are their originals
            storage.delete_quietly(key)
        raise
    logger.info("batch %s: %d job(s) of %d file(s)", batch.pk, len(stored), len(files))
    return batch


def _submit_one(
    upload: BatchFile, steps: Sequence[processing.Step], output_format: str, owner: Any
) -> tuple[Job | None, dict[str, Any] | None]:
    if not upload.data:
        return None, {"detail": "empty file", "code": "EmptyFile"}
    try:
        quota_check_upload(user=owner, upload_bytes=len(upload.data))
        # The batch's webhook is the one call: its jobs call none of their own.
        job = services.job_submit(
            data=upload.data, filename=upload.name, steps=steps, output_format=output_format,
            owner=owner,
        )
    except QuotaExceeded as refusal:
        return None, {"detail": str(refusal), "code": "quota_exceeded"}
    except (processing.ImageError, processing.InvalidStep) as refusal:
        return None, {"detail": str(refusal), "code": type(refusal).__name__}
    return job, None


def status_counts(batch: Batch) -> dict[str, int]:
    """Jobs by status, every status present (0 when none), plus the files refused at upload."""
    counts = dict.fromkeys(Job.Status.values, 0)
    rows = (
        Job.objects.filter(batch_item__batch=batch).values_list("status")
        .annotate(n=Count("pk")).order_by()
    )
    counts.update(dict(rows))
    counts["refused"] = batch.items.filter(job__isnull=True, error__isnull=False).count()
    return counts


def batch_check_finished(*, batch_id: object) -> bool:
    """Finish the batch if no job of it is active; True only for the call that finished it.

    Under the batch's row lock: two jobs finishing at once both check, one sees the other's
    finished_at and does nothing, so exactly one event and one webhook go out.
    """
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(
            pk=batch_id, finished_at__isnull=True
        ).first()
        if batch is None:
            return False
        if Job.objects.filter(batch_item__batch=batch, status__in=Job.ACTIVE).exists():
            return False
        batch.finished_at = timezone.now()
        batch.save(update_fields=["finished_at"])
        payload = batch_payload(batch)
        transaction.on_commit(lambda: announce(payload, batch.webhook_url), robust=True)
    logger.info("batch %s finished", batch_id)
    return True


def batch_payload(batch: Batch) -> dict[str, Any]:
    """The batch's event, on processed_images and to its webhook."""
    items = batch.items.select_related("job")
    return {
        "event": "batch.finished",
        "batch_id": str(batch.pk),
        "counts": status_counts(batch),
        "jobs": [
            {"job_id": str(item.job.pk), "file": item.filename, "status": item.job.status,
             "result": reverse("job-result", args=[item.job.pk])
             if item.job.status == Job.Status.COMPLETED else None}
            for item in items if item.job is not None
        ],
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
    }


def announce(payload: dict[str, Any], webhook_url: str) -> None:
    """After the commit: publish the event (a retrying actor if RabbitMQ refuses now) and
    hand the webhook to its retrying actor."""
    try:
        events.publish_processed(payload)
    except Exception:
        logger.exception("batch %s: could not publish its event now, retrying later",
                         payload["batch_id"])
        send_now("publish_batch_event", payload)
    if webhook_url:
        send_now("deliver_batch_webhook", webhook_url, payload)


def _job_saved(sender: type[Job], instance: Job, **_: Any) -> None:
    # Every way a job stops (completed, failed, cancelled, reused at upload) saves it; only
    # job_finished/job_failed would miss cancelling. The check runs after the commit.
    if instance.status in Job.ACTIVE:
        return
    job_id = instance.pk

    def check() -> None:
        batch_id = BatchItem.objects.filter(job_id=job_id).values_list("batch_id", flat=True)
        for found in batch_id[:1]:
            batch_check_finished(batch_id=found)

    transaction.on_commit(check, robust=True)


def connect() -> None:
    post_save.connect(_job_saved, sender=Job, dispatch_uid="photopipe-batch-finished")
