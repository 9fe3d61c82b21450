"""The only code that changes a job's state. Views, actors, admin and commands call these.

Every write runs in a transaction on a row locked with SELECT ... FOR UPDATE, so two
deliveries of one message (or a worker and an operator) cannot both move the same job.
Messages are sent and signals fired only after the commit.
"""

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import processing
from jobs import storage
from jobs.models import IllegalTransition, Job, StageRun
from jobs.queueing import send_on_commit
from jobs.signals import job_failed, job_finished
from jobs.stages import ALL_STAGES, DETECT, WATERMARK, next_stage

logger = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class StageNotInPlan(ValueError):
    """Reprocessing was asked to start from a stage this job does not run."""


def upload_limits() -> processing.Limits:
    conf = settings.PHOTOPIPE
    return processing.Limits(
        max_bytes=conf["MAX_UPLOAD_BYTES"], max_pixels=conf["MAX_PIXELS"],
        max_frames=conf["MAX_FRAMES"],
    )


@dataclass(frozen=True)
class StageOutput:
    """What a stage produced: an object in storage and/or facts for the job row."""

    output_key: str = ""
    width: int | None = None
    height: int | None = None
    detections: dict[str, Any] | None = None


# --- submitting -------------------------------------------------------------------------------

def job_submit(
    *,
    data: bytes,
    filename: str = "",
    steps: Sequence[processing.Step] = (),
    output_format: str = "JPEG",
    webhook_url: str = "",
    owner: Any = None,
) -> Job:
    """Store the original and create a queued job; the first stage is sent on commit.

    Only probes the upload (header, never pixels). Raises processing.ImageError for a bad
    upload, before anything is stored.
    """
    info = processing.probe(data, upload_limits())
    job_id = uuid.uuid4()
    key = storage.write_bytes(storage.original_key(job_id, processing.extension(info.format)), data)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                id=job_id, owner=owner if getattr(owner, "is_authenticated", False) else None,
                status=Job.Status.QUEUED, steps=[_step_dict(step) for step in steps],
                output_format=output_format, webhook_url=webhook_url,
                original_key=key, original_name=filename[:255], original_format=info.format,
                original_width=info.width, original_height=info.height, original_bytes=len(data),
            )
            job.stage = job.plan[0]
            job.save(update_fields=["stage"])
            send_on_commit(job.stage, str(job.id))
    except Exception:
        storage.delete_quietly(key)  # no job, so no orphaned original either
        raise
    logger.info("job %s queued (%s %dx%d)", job.id, info.format, info.width, info.height)
    return job


def _step_dict(step: processing.Step) -> dict[str, Any]:
    return {"name": step.name, "params": dict(step.params)}


# --- running stages ---------------------------------------------------------------------------

@transaction.atomic
def stage_claim(*, job_id: str, stage: str, worker: str = WORKER_ID) -> StageRun | None:
    """Start an attempt at ``stage``, or return None when there is nothing to do.

    Nothing to do: the job is gone, finished, cancelled, at another stage, or this stage is
    already done in the current run (a redelivered message). A RUNNING attempt left behind
    by a killed worker is closed as abandoned. Attempts are counted here, in the database, so
    a message that kills its worker every time ends as a failed job instead of looping.
    """
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not job.is_active or job.stage != stage:
        return None
    runs = StageRun.objects.filter(job=job, run=job.run, stage=stage)
    if runs.filter(status=StageRun.Status.DONE).exists():
        return None
    now = timezone.now()
    runs.filter(status=StageRun.Status.RUNNING).update(
        status=StageRun.Status.FAILED, finished_at=now,
        error="abandoned: the worker stopped before finishing (killed or lost)",
    )
    attempts = runs.count()
    if attempts >= settings.PHOTOPIPE["STAGE_MAX_ATTEMPTS"]:
        last_error = runs.order_by("-attempt").values_list("error", flat=True).first() or ""
        _fail(job, f"{stage} failed after {attempts} attempts: {last_error}".rstrip(": "))
        return None
    if job.status == Job.Status.QUEUED:
        job.move_to(Job.Status.PROCESSING)
        job.started_at = job.started_at or now
    job.attempts += 1
    job.save(update_fields=["status", "started_at", "attempts", "updated_at"])
    return StageRun.objects.create(
        job=job, run=job.run, stage=stage, attempt=attempts + 1, worker=worker[:100],
    )


@transaction.atomic
def stage_complete(*, stage_run: StageRun, output: StageOutput) -> Job | None:
    """Record a finished attempt and move the job on: next stage on commit, or completion."""
    job = Job.objects.select_for_update().get(pk=stage_run.job_id)
    run = StageRun.objects.select_for_update().get(pk=stage_run.pk)
    if run.status != StageRun.Status.RUNNING or not job.is_active or job.stage != run.stage:
        return None  # superseded by another delivery, or cancelled meanwhile: drop quietly
    _close_run(run, StageRun.Status.DONE, output_key=output.output_key)
    if run.stage == WATERMARK:
        job.result_key = output.output_key
        job.result_width, job.result_height = output.width, output.height
    if run.stage == DETECT:
        job.detections = output.detections
    following = next_stage(job.plan, run.stage)
    if following:
        job.stage = following
        job.save()
        send_on_commit(following, str(job.id))
        return job
    job.move_to(Job.Status.COMPLETED)
    job.finished_at = timezone.now()
    job.error = ""
    job.save()
    transaction.on_commit(lambda: job_finished.send(sender=Job, job=job))
    logger.info("job %s completed", job.id)
    return job


@transaction.atomic
def stage_fail(*, stage_run: StageRun, reason: str, permanent: bool) -> None:
    """Record a failed attempt. Permanent failures fail the job now; transient ones leave it
    processing, for Dramatiq's Retries middleware to send the message again."""
    job = Job.objects.select_for_update().get(pk=stage_run.job_id)
    run = StageRun.objects.select_for_update().get(pk=stage_run.pk)
    if run.status == StageRun.Status.RUNNING:
        _close_run(run, StageRun.Status.FAILED, error=reason)
    if permanent and job.is_active and job.stage == run.stage:
        _fail(job, reason)


@transaction.atomic
def job_fail(*, job_id: str, stage: str, reason: str) -> bool:
    """Fail a job from outside a stage attempt (retries exhausted). False if not applicable."""
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not job.is_active or job.stage != stage:
        return False
    last_error = (
        StageRun.objects.filter(job=job, run=job.run, stage=stage)
        .order_by("-attempt").values_list("error", flat=True).first()
    )
    _fail(job, f"{reason}: {last_error}" if last_error else reason)
    return True


def _fail(job: Job, reason: str) -> None:
    job.move_to(Job.Status.FAILED)
    job.error = reason[:2000]
    job.finished_at = timezone.now()
    job.save()
    transaction.on_commit(lambda: job_failed.send(sender=Job, job=job))
    logger.warning("job %s failed at %s: %s", job.id, job.stage, reason)


def _close_run(run: StageRun, status: str, *, output_key: str = "", error: str = "") -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.duration_ms = int((run.finished_at - run.started_at).total_seconds() * 1000)
    run.output_key = output_key
    run.error = error[:2000]
    run.save()


# --- operator actions -------------------------------------------------------------------------

@transaction.atomic
def job_cancel(*, job_id: str) -> Job:
    """Cancel a queued or processing job; a stage already running finishes but is dropped."""
    job = Job.objects.select_for_update().get(pk=job_id)
    job.move_to(Job.Status.CANCELLED)
    job.finished_at = timezone.now()
    job.save()
    return job


@transaction.atomic
def job_reprocess(*, job_id: str, from_stage: str | None = None) -> Job:
    """Run a finished, failed or cancelled job again, from its first stage or ``from_stage``.

    Starts a new run: earlier attempts stay in the timeline, the new stage outputs overwrite
    the old objects (their keys are per job and stage).
    """
    job = Job.objects.select_for_update().get(pk=job_id)
    stage = from_stage or job.plan[0]
    if stage not in job.plan:
        raise StageNotInPlan(f"{stage!r} is not one of this job's stages: {', '.join(job.plan)}")
    if job.is_active:
        raise IllegalTransition(f"a {job.status} job is still running; cancel it first")
    if stage != job.plan[0]:
        _require_earlier_outputs(job, stage)
    job.move_to(Job.Status.QUEUED)
    job.stage = stage
    job.run += 1
    job.error = ""
    job.finished_at = None
    job.save()
    _carry_over_done_runs(job, before=stage)
    send_on_commit(stage, str(job.id))
    return job


def _require_earlier_outputs(job: Job, stage: str) -> None:
    earlier = job.plan[: job.plan.index(stage)]
    done = set(
        StageRun.objects.filter(job=job, run=job.run, status=StageRun.Status.DONE)
        .values_list("stage", flat=True)
    )
    missing = [name for name in earlier if name not in done]
    if missing:
        raise StageNotInPlan(f"cannot start at {stage}: {', '.join(missing)} never finished")


def _carry_over_done_runs(job: Job, *, before: str) -> None:
    """Stages before the restart point keep their outputs; record them done in the new run."""
    earlier = job.plan[: job.plan.index(before)]
    for old in StageRun.objects.filter(
        job=job, run=job.run - 1, stage__in=earlier, status=StageRun.Status.DONE
    ):
        StageRun.objects.create(
            job=job, run=job.run, stage=old.stage, attempt=1, status=StageRun.Status.DONE,
            finished_at=old.finished_at, duration_ms=0, worker="(reused from previous run)",
            output_key=old.output_key,
        )


def jobs_resume_stuck(*, older_than: timedelta) -> list[str]:
    """Re-send the current stage of active jobs untouched for ``older_than``.

    Covers a crash between the commit and the publish, a lost message or a restart of the
    embedded mode. Duplicate messages are harmless: stage_claim makes stages idempotent.
    """
    cutoff = timezone.now() - older_than
    resumed = []
    for job_id, stage in Job.objects.filter(
        status__in=Job.ACTIVE, updated_at__lte=cutoff
    ).values_list("id", "stage"):
        if stage in ALL_STAGES:
            with transaction.atomic():
                # Touch the row so the next sweep waits a full timeout again.
                Job.objects.filter(pk=job_id).update(updated_at=timezone.now())
                send_on_commit(stage, str(job_id))
            resumed.append(str(job_id))
    if resumed:
        logger.warning("resumed %d stuck job(s)", len(resumed))
    return resumed
