"""The only code that changes a job's state. Views, actors, admin and commands call these.

Every write runs in a transaction on a row locked with SELECT ... FOR UPDATE, so two
deliveries of one message (or a worker and an operator) cannot both move the same job.
Messages are sent and signals fired only after the commit.
"""

import logging
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import processing
from jobs import storage
from jobs.models import IllegalTransition, Job, StageRun
from jobs.queueing import send_on_commit
from jobs.signals import job_failed, job_finished
from jobs.stages import ALL_STAGES, DETECT, WATERMARK, next_stage, stage_plan

logger = logging.getLogger(__name__)

class StageNotInPlan(ValueError):
    """Reprocessing was asked to start from a stage this job does not run."""


class StageBusy(Exception):
    """Another delivery of this stage is still being worked on; try again after ``delay_ms``."""

    def __init__(self, delay_ms: int) -> None:
        super().__init__(f"stage is being processed elsewhere; retry in {delay_ms} ms")
        self.delay_ms = delay_ms


def worker_id() -> str:
    """host:pid:start-time of this process (per call: worker processes are forked).

    The start time tells a restarted container's new process apart from the dead one that had
    the same pid.
    """
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or ''}"


# StageRun ids this process is working on right now: an attempt recorded under this process's
# id but missing here was orphaned by an error (not by a dead process) and is not alive.
_IN_FLIGHT: set[int] = set()


@contextmanager
def attempt_in_flight(stage_run: StageRun) -> Iterator[None]:
    _IN_FLIGHT.add(stage_run.pk)
    try:
        yield
    finally:
        _IN_FLIGHT.discard(stage_run.pk)


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
                status=Job.Status.QUEUED, stage=stage_plan(steps)[0],
                steps=[_step_dict(step) for step in steps],
                output_format=output_format, webhook_url=webhook_url,
                original_key=key, original_name=filename[:255], original_format=info.format,
                original_width=info.width, original_height=info.height, original_bytes=len(data),
            )
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
def stage_claim(*, job_id: str, stage: str, worker: str | None = None) -> StageRun | None:
    """Start an attempt at ``stage``, or return None when there is nothing to do.

    Nothing to do: the job is gone, finished, cancelled, at another stage, or this stage is
    already done in the current run (a redelivered message). An attempt still RUNNING is
    either alive elsewhere (StageBusy: the message comes back later, so the work is never done
    twice at once) or was left by a dead worker and is closed as abandoned. Attempts are
    counted here, in the database, so a message that kills its worker every time ends as a
    failed job instead of looping.
    """
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not job.is_active or job.stage != stage:
        return None
    runs = StageRun.objects.filter(job=job, run=job.run, stage=stage)
    if runs.filter(status=StageRun.Status.DONE).exists():
        return None
    now = timezone.now()
    for running in runs.filter(status=StageRun.Status.RUNNING):
        busy_ms = _lease_left_ms(running, now)
        if busy_ms > 0:
            raise StageBusy(busy_ms)
        _close_run(running, StageRun.Status.FAILED, error=ABANDONED)
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
        job=job, run=job.run, stage=stage, attempt=attempts + 1,
        worker=(worker or worker_id())[:100],
    )


ABANDONED = "abandoned: the worker stopped before finishing (killed or lost)"


def _lease_left_ms(running: StageRun, now: datetime) -> int:
    """How long a RUNNING attempt may still be alive; 0 when it is certainly dead.

    Dramatiq's TimeLimit ends every attempt within STAGE_TIME_LIMIT_MS, so an older one is dead.
    A younger one on this host is dead if its process is gone (the fast path after a kill -9);
    on another host it is trusted until its time limit runs out.
    """
    limit_ms = settings.PHOTOPIPE["STAGE_TIME_LIMIT_MS"] + 5000
    left_ms = limit_ms - int((now - running.started_at).total_seconds() * 1000)
    if left_ms <= 0:
        return 0
    if running.worker == worker_id():
        return left_ms if running.pk in _IN_FLIGHT else 0
    host, pid, started = (running.worker.split(":") + ["", ""])[:3]
    if host == socket.gethostname() and pid.isdigit() and _process_start(int(pid)) != started:
        return 0  # that process is gone (or its pid now belongs to another process)
    return left_ms


def _process_start(pid: int) -> str | None:
    """The process's start time (clock ticks after boot), None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]  # fields 3 (state) and 22 (starttime)


@transaction.atomic
def stage_complete(*, stage_run: StageRun, output: StageOutput) -> Job | None:
    """Record a finished attempt and move the job on: next stage on commit, or completion."""
    job = Job.objects.select_for_update().filter(pk=stage_run.job_id).first()
    run = StageRun.objects.select_for_update().filter(pk=stage_run.pk).first()
    if job is None or run is None or not _is_current(job, run):
        if job is None or job.status in (Job.Status.CANCELLED, Job.Status.FAILED):
            storage.delete_intermediates(stage_run.job_id)  # this late write, after a delete
        return None  # cancelled or reprocessed meanwhile: the job has moved on without it
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
    # send_robust: a failing receiver (broker down) must not undo or hide the completion.
    transaction.on_commit(lambda: job_finished.send_robust(sender=Job, job=job), robust=True)
    logger.info("job %s completed", job.id)
    return job


@transaction.atomic
def stage_fail(*, stage_run: StageRun, reason: str, permanent: bool) -> None:
    """Record a failed attempt. Permanent failures fail the job now; transient ones leave it
    processing, for Dramatiq's Retries middleware to send the message again."""
    job = Job.objects.select_for_update().get(pk=stage_run.job_id)
    run = StageRun.objects.select_for_update().get(pk=stage_run.pk)
    current = _is_current(job, run)
    if run.status == StageRun.Status.RUNNING:
        _close_run(run, StageRun.Status.FAILED, error=reason)
    if permanent and current:
        _fail(job, reason)


def _is_current(job: Job, run: StageRun) -> bool:
    """The attempt is still the one the job is waiting for (not closed, not an old run)."""
    return (
        run.status == StageRun.Status.RUNNING and job.is_active and job.run == run.run
        and job.stage == run.stage
    )


@transaction.atomic
def job_fail(*, job_id: str, stage: str, reason: str) -> bool:
    """Fail a job from outside a stage attempt (retries exhausted). False if not applicable."""
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not job.is_active or job.stage != stage:
        return False
    last = StageRun.objects.filter(job=job, run=job.run, stage=stage).order_by("-attempt").first()
    if last is None or last.status != StageRun.Status.FAILED:
        return False  # the retries were for an older run, or an attempt is running right now
    _fail(job, f"{reason}: {last.error}" if last.error else reason)
    return True


def _fail(job: Job, reason: str) -> None:
    job.move_to(Job.Status.FAILED)
    job.error = reason[:2000]
    job.finished_at = timezone.now()
    job.save()
    storage.delete_intermediates(job.pk)  # failed jobs keep no intermediates (issue 7)
    transaction.on_commit(lambda: job_failed.send_robust(sender=Job, job=job), robust=True)
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
    storage.delete_intermediates(job.pk)  # cancelled jobs keep no intermediates (issue 7)
    for running in StageRun.objects.filter(job=job, status=StageRun.Status.RUNNING):
        _close_run(running, StageRun.Status.FAILED, error="cancelled")
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
    job.notified_at = None
    _forget_results_from(job, stage)
    job.save()
    _carry_over_done_runs(job, before=stage)
    send_on_commit(stage, str(job.id))
    return job


def _forget_results_from(job: Job, stage: str) -> None:
    """Results of the stages that will run again are stale until they do."""
    rerun = job.plan[job.plan.index(stage):]
    if WATERMARK in rerun:
        job.result_key, job.result_width, job.result_height = "", None, None
    if DETECT in rerun:
        job.detections = None


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


def job_mark_notified(*, job_id: str, status: str) -> None:
    """Record that the event for ``status`` was broadcast (not if the job has moved on since)."""
    Job.objects.filter(pk=job_id, status=status, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )


def jobs_rebroadcast_unnotified(*, older_than: timedelta) -> list[str]:
    """Re-send completion events that never reached RabbitMQ (it refused both the publish and
    the retrying fallback). At least once: a subscriber may see an event twice."""
    from jobs.events import event_payload

    cutoff = timezone.now() - older_than
    resent = []
    for job in Job.objects.filter(
        status__in=Job.ANNOUNCED, notified_at__isnull=True, updated_at__lte=cutoff
    ):
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(updated_at=timezone.now())
            send_on_commit("publish_processed_event", event_payload(job))
        resent.append(str(job.pk))
    if resent:
        logger.warning("re-sent %d completion event(s)", len(resent))
    return resent
