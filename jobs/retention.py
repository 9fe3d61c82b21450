"""Deleting jobs and everything they stored: one job (the API's DELETE), in bulk
(``purge_jobs`` and the reaper's retention), and the reprocess guard for deleted outputs.

Objects are found by listing the job's prefix (``jobs/<id>/``) plus its original's key, so
nothing a stage wrote is missed. A stage still running when its job is cancelled or deleted
writes its output after we listed; ``services.stage_complete`` removes that late write,
because it is the first code to see, under the job's row lock, that the job is gone.
"""

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs import services, storage
from jobs.models import Job
from jobs.storage import Removed

logger = logging.getLogger(__name__)

# What retention and purge_jobs remove unless told otherwise: finished jobs only.
FINISHED = (Job.Status.COMPLETED, Job.Status.FAILED, Job.Status.CANCELLED)

# The reaper purges at most this many jobs per sweep, so one sweep stays short.
REAPER_PURGE_BATCH = 500


@dataclass
class PurgeReport:
    jobs: list[str] = field(default_factory=list)
    removed: Removed = Removed()
    failed: list[str] = field(default_factory=list)

    def summary(self, *, dry_run: bool = False) -> str:
        verb = "would remove" if dry_run else "removed"
        return (
            f"{verb} {len(self.jobs)} job(s), {self.removed.objects} object(s), "
            f"{self.removed.bytes} bytes"
        )


def delete_intermediates(job: Job) -> Removed:
    """Stage outputs of a failed or cancelled job: everything under its prefix."""
    return storage.delete_intermediates(job.pk)


def job_objects(job: Job, *, dry_run: bool = False) -> Removed:
    """Delete (or, dry, measure) every stored object of a job: original, outputs, result."""
    removed = storage.delete_object(job.original_key, dry_run=dry_run)
    return removed + storage.delete_tree(storage.job_prefix(job.pk), dry_run=dry_run)


def job_delete(
    *, job_id: object, dry_run: bool = False, only_if: Callable[[Job], bool] | None = None
) -> Removed | None:
    """Delete a job, its stage runs and its stored objects; cancel it first if it is active.

    The objects go inside the transaction that holds the job's row lock: a failing storage
    rolls the delete back (so it can be retried, nothing orphaned), and a stage finishing
    meanwhile waits for the lock, then finds the job gone and removes its own late output.
    ``only_if`` re-checks a bulk selection under the lock; None when it says no (or the job
    is already gone).
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or (only_if is not None and not only_if(job)):
            return None
        if dry_run:
            return job_objects(job, dry_run=True)
        if job.is_active:
            services.job_cancel(job_id=job.pk)
        removed = job_objects(job)
        job.delete()  # StageRun rows go with it (on_delete=CASCADE)
    logger.info("job %s deleted (%d objects, %d bytes)", job_id, removed.objects, removed.bytes)
    return removed


def jobs_purge(
    *,
    older_than: timedelta,
    statuses: Collection[str] = FINISHED,
    dry_run: bool = False,
    limit: int | None = None,
    progress: Callable[[Sequence[str]], Iterable[str]] = iter,
) -> PurgeReport:
    """Delete jobs in ``statuses`` finished (or, never finished, created) before
    ``older_than`` ago. ``progress`` wraps the list of ids (a progress bar)."""
    cutoff = timezone.now() - older_than

    def wanted(job: Job) -> bool:
        moment = job.finished_at or job.created_at
        return job.status in statuses and moment < cutoff

    selection = (
        Job.objects.filter(status__in=statuses)
        .filter(
            Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    ids = [str(pk) for pk in (selection[:limit] if limit else selection)]
    report = PurgeReport()
    for job_id in progress(ids):
        try:
            removed = job_delete(job_id=job_id, dry_run=dry_run, only_if=wanted)
        except Exception:
            # One job's storage failing must not stop the rest; it stays for the next run.
            logger.exception("job %s: purge failed", job_id)
            report.failed.append(job_id)
            continue
        if removed is not None:
            report.jobs.append(job_id)
            report.removed += removed
    return report


def jobs_purge_expired(
    *, progress: Callable[[Sequence[str]], Iterable[str]] = iter
) -> PurgeReport | None:
    """The reaper's retention: purge finished jobs older than PHOTOPIPE_RETENTION_DAYS
    (None when retention is off, 0 days)."""
    days = settings.PHOTOPIPE["RETENTION_DAYS"]
    if days <= 0:
        return None
    return jobs_purge(
        older_than=timedelta(days=days), limit=REAPER_PURGE_BATCH, progress=progress
    )
