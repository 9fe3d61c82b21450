"""The only code that changes a job's state. Views, actors, admin and commands call these.

Every write runs in a transaction on a row locked with SELECT ... FOR UPDATE, so two
deliveries of one message (or a worker and an operator) cannot both move the same job. The
job's own lifecycle methods (jobs/models.py) stamp times and fields and refuse illegal moves;
what each stage reads and writes comes from the registry (jobs/stages.py). Messages are sent
and signals fired only after the commit.
"""

import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import processing
from jobs import dedupe, leases, stages, storage
from jobs import handoff as handoffs
from jobs.limits import upload_limits
from jobs.models import Job, ReprocessRefused, StageRun
from jobs.queueing import send_on_commit
from jobs.signals import job_failed, job_finished
from jobs.stage_work import StageOutput

__all__ = [
    "EarlierOutputMissing", "attempt_fail", "job_cancel", "job_reprocess", "job_submit",
    "stage_claim", "stage_complete", "stage_give_up", "upload_limits",
]

logger = logging.getLogger(__name__)


class EarlierOutputMissing(ReprocessRefused):
    """Reprocessing from a later stage needs the outputs of the stages before it."""


# --- submitting -------------------------------------------------------------------------------

def job_submit(
    *,
    data: bytes,
    filename: str = "",
    steps: Sequence[processing.Step] = (),
    output_format: str = "JPEG",
    webhook_url: str = "",
    owner: Any = None,
    sha256: str | None = None,
) -> Job:
    """Store the original and create a queued job; the first stage is sent on commit.

    ``sha256``: the hex SHA-256 of ``data`` when the caller already has it (the API hashes an
    upload as it arrives, jobs/api/uploads.py); computed here otherwise.

    Only probes the upload (header, never pixels) and sizes the filter plan from it. Raises
    processing.ImageError for a bad upload and processing.InvalidStep for a plan that would
    make an image over the pixel limit or cost more than the work budget, before anything is
    stored.
    """
    limits = upload_limits()
    info = processing.probe(data, limits)
    processing.check_plan(info.width, info.height, steps, limits)
    job_id = uuid.uuid4()
    sha256 = sha256 or dedupe.sha256_of(data)
    key = storage.write_bytes(
        storage.original_key(job_id, processing.extension(info.format)), data, sha256=sha256
    )
    source = dedupe.reusable_source(
        owner=owner, sha256=sha256, steps=steps, output_format=output_format
    )
    reused = dedupe.copy_result(source, job_id) if source else None
    try:
        # A plain upload is one INSERT: it needs no transaction of its own (BEGIN and COMMIT are
        # two more round trips), and its message is sent once the row is committed either way
        # (at once in autocommit, or when a caller's transaction commits: the idempotency key's).
        # A reused result is an INSERT and an UPDATE, so that pair is atomic.
        with transaction.atomic() if reused else contextlib.nullcontext():
            job = Job.objects.create(
                id=job_id, owner=owner if getattr(owner, "is_authenticated", False) else None,
                status=Job.Status.QUEUED, stage=stages.stage_plan(steps)[0],
                steps=[step.to_dict() for step in steps],
                output_format=output_format, webhook_url=webhook_url,
                original_key=key, original_name=filename[:255], original_format=info.format,
                original_width=info.width, original_height=info.height, original_bytes=len(data),
                original_sha256=sha256,
            )
            if reused:
                _complete_reused(job, reused)
            else:
                send_on_commit(job.stage, str(job.id))
    except Exception:
        storage.delete_quietly(key)  # no job, so no orphaned original either
        if reused:
            storage.delete_quietly(reused["result_key"])
        raise
    if not reused:
        logger.info("job %s queued (%s %dx%d)", job.id, info.format, info.width, info.height)
    return job


def _complete_reused(job: Job, fields: dict[str, Any]) -> None:
    """A deduplicated job: completed at once with a copy of an earlier result, no stage run."""
    for name, value in fields.items():
        setattr(job, name, value)
    job.stage = job.plan[-1]
    job.start()
    job.complete()
    job.save()
    transaction.on_commit(lambda: job_finished.send_robust(sender=Job, job=job), robust=True)
    logger.info("job %s completed by reusing %s", job.id, job.reused_from)


# --- running stages ---------------------------------------------------------------------------

@transaction.atomic
def stage_claim(*, job_id: str, stage: str, worker: str | None = None) -> StageRun | None:
    """Start an attempt at ``stage``, or return None when there is nothing to do.

    Nothing to do: the job is gone, finished, cancelled, at another stage, or this stage is
    already done in the current run (a redelivered message). An attempt still RUNNING is
    either alive elsewhere (leases.StageBusy: the message comes back later, so the work is
    never done twice at once) or was left by a dead worker and is closed as abandoned.
    Attempts are counted here, in the database, so a message that kills its worker every time
    ends as a failed job instead of looping.
    """
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not job.is_active or job.stage != stage:
        return None
    # Every attempt of this run, in one query (they are few): this stage's attempts, and the
    # output the stage reads (stage_input_key would be one more query per stage).
    this_run = list(StageRun.objects.filter(job=job, run=job.run))
    runs = [run for run in this_run if run.stage == stage]
    if any(run.status == StageRun.Status.DONE for run in runs):
        return None
    now = timezone.now()
    for running in [run for run in runs if run.status == StageRun.Status.RUNNING]:
        busy_ms = leases.lease_left_ms(running, now)
        if busy_ms > 0:
            raise leases.StageBusy(busy_ms)
        running.close(StageRun.Status.FAILED, error=leases.ABANDONED)
    attempts = len(runs)
    if attempts >= settings.PHOTOPIPE["STAGE_MAX_ATTEMPTS"]:
        last_error = max(runs, key=lambda run: run.attempt).error
        _fail(job, stage, f"{stage} failed after {attempts} attempts: {last_error}".rstrip(": "))
        return None
    if job.status == Job.Status.QUEUED:
        job.start()
    job.attempts += 1
    job.save(update_fields=["status", "started_at", "attempts", "updated_at"])
    claimed = StageRun.objects.create(
        job=job, run=job.run, stage=stage, attempt=attempts + 1,
        worker=(worker or leases.worker_id())[:100],
    )
    claimed.input_key = stage_input_key(job, stage, this_run)  # what runner reads, no query
    return claimed


def stage_input_key(job: Job, stage: str, this_run: Sequence[StageRun] | None = None) -> str:
    """The storage key of the image ``stage`` reads: the original, or the output an earlier
    stage of the current run recorded ("" when that output is missing). ``this_run``: the
    run's attempts when the caller has them already."""
    source = stages.input_stage(job.plan, stage)
    if source is None:
        return job.original_key
    if this_run is not None:
        done = (r for r in this_run if r.stage == source and r.status == StageRun.Status.DONE)
        return next((r.output_key for r in done), "")
    return (
        StageRun.objects.filter(job=job, run=job.run, stage=source, status=StageRun.Status.DONE)
        .values_list("output_key", flat=True).first() or ""
    )


@transaction.atomic
def stage_complete(
    *, stage_run: StageRun, output: StageOutput, input_data: bytes | None = None
) -> Job | None:
    """Record a finished attempt and move the job on: next stage on commit, or completion.

    ``input_data``: the image the attempt read (stage_run.input_key). The next stage's message
    carries the image it reads when it is this output or this input (jobs/handoff.py)."""
    job = Job.objects.select_for_update().filter(pk=stage_run.job_id).first()
    run = StageRun.objects.select_for_update().filter(pk=stage_run.pk).first()
    if job is None or run is None or not _is_current(job, run):
        if job is None or job.status in (Job.Status.CANCELLED, Job.Status.FAILED):
            storage.delete_intermediates(stage_run.job_id)  # this late write, after a delete
        return None  # cancelled or reprocessed meanwhile: the job has moved on without it
    run.close(StageRun.Status.DONE, output_key=output.output_key)
    job.record(run.stage, output.job_fields)
    following = stages.next_stage(job.plan, run.stage)
    # Only the columns a completion changes: the full-row UPDATE re-encoded every JSON field.
    changed = ["status", "stage", "error", "finished_at", "updated_at", *output.job_fields]
    if following:
        job.advance(following)
        job.save(update_fields=changed)
        handoff = _handoff_to(following, job, run.stage, output,
                              getattr(stage_run, "input_key", ""), input_data)
        send_on_commit(following, str(job.id), **({"handoff": handoff} if handoff else {}))
        return job
    job.complete()
    job.save(update_fields=changed)
    # send_robust: a failing receiver (broker down) must not undo or hide the completion.
    transaction.on_commit(lambda: job_finished.send_robust(sender=Job, job=job), robust=True)
    logger.info("job %s completed", job.id)
    return job


def _handoff_to(following: str, job: Job, finished: str, output: StageOutput, input_key: str,
                input_data: bytes | None) -> handoffs.Handoff | None:
    """What the message to ``following`` can carry of the image it will read."""
    source = stages.input_stage(job.plan, following)
    if source == finished:
        return handoffs.pack(output.output_key, job.run, output.data)
    if source == stages.input_stage(job.plan, finished):  # it reads what this stage read
        return handoffs.pack(input_key, job.run, input_data)
    return None


@transaction.atomic
def attempt_fail(*, stage_run: StageRun, reason: str, permanent: bool) -> None:
    """Record a failed attempt. A permanent failure (a bad image) fails the job now; a
    transient one leaves it processing, for Dramatiq's Retries middleware to send the message
    again."""
    job = Job.objects.select_for_update().get(pk=stage_run.job_id)
    run = StageRun.objects.select_for_update().get(pk=stage_run.pk)
    current = _is_current(job, run)
    if run.status == StageRun.Status.RUNNING:
        run.close(StageRun.Status.FAILED, error=reason)
    if permanent and current:
        _fail(job, run.stage, reason)


@transaction.atomic
def stage_give_up(*, job_id: str, stage: str, reason: str) -> bool:
    """Fail a job whose stage message ran out of retries. False if not applicable."""
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not job.is_active or job.stage != stage:
        return False
    last = StageRun.objects.filter(job=job, run=job.run, stage=stage).order_by("-attempt").first()
    if last is None or last.status != StageRun.Status.FAILED:
        return False  # the retries were for an older run, or an attempt is running right now
    _fail(job, stage, f"{reason}: {last.error}" if last.error else reason)
    return True


def _is_current(job: Job, run: StageRun) -> bool:
    """The attempt is still the one the job is waiting for (not closed, not an old run)."""
    return (
        run.status == StageRun.Status.RUNNING and job.is_active and job.run == run.run
        and job.stage == run.stage
    )


def _fail(job: Job, stage: str, reason: str) -> None:
    job.fail(stage, reason)
    job.save()
    storage.delete_intermediates(job.pk)  # failed jobs keep no intermediates (issue 7)
    transaction.on_commit(lambda: job_failed.send_robust(sender=Job, job=job), robust=True)
    logger.warning("job %s failed at %s: %s", job.id, stage, reason)


# --- operator actions -------------------------------------------------------------------------

@transaction.atomic
def job_cancel(*, job_id: str) -> Job:
    """Cancel a queued or processing job; a stage already running finishes but is dropped."""
    job = Job.objects.select_for_update().get(pk=job_id)
    job.cancel()
    job.save()
    storage.delete_intermediates(job.pk)  # cancelled jobs keep no intermediates (issue 7)
    for running in StageRun.objects.filter(job=job, status=StageRun.Status.RUNNING):
        running.close(StageRun.Status.CANCELLED)
    return job


@transaction.atomic
def job_reprocess(*, job_id: str, from_stage: str | None = None) -> Job:
    """Run a finished, failed or cancelled job again, from its first stage or ``from_stage``.

    Starts a new run: earlier attempts stay in the timeline, the new stage outputs overwrite
    the old objects (their keys are per job and stage).
    """
    job = Job.objects.select_for_update().get(pk=job_id)
    stage = from_stage or job.plan[0]
    if stage in job.plan and not job.is_active:
        _require_earlier_outputs(job, stage)
    job.requeue(stage)  # refuses a stage outside the plan and a job still running
    job.save()
    _carry_over_done_runs(job, before=stage)
    send_on_commit(stage, str(job.id))
    return job


def _require_earlier_outputs(job: Job, stage: str) -> None:
    """Refuse a restart at ``stage`` unless every earlier stage finished in the current run and
    its output is still stored (failed and cancelled jobs keep no intermediates)."""
    earlier = job.plan[: job.plan.index(stage)]
    keys = dict(
        StageRun.objects.filter(job=job, run=job.run, stage__in=earlier,
                                status=StageRun.Status.DONE).values_list("stage", "output_key")
    )
    never = [name for name in earlier if name not in keys]
    if never:
        raise EarlierOutputMissing(f"cannot start at {stage}: {', '.join(never)} never finished")
    deleted = [f"{name} ({key})" for name, key in keys.items() if key and not storage.exists(key)]
    if deleted:
        raise EarlierOutputMissing(
            f"cannot start at {stage}: the output of {', '.join(deleted)} was deleted when the "
            f"job was {job.status}; reprocess from {job.plan[0]}"
        )


def _carry_over_done_runs(job: Job, *, before: str) -> None:
    """Stages before the restart point keep their outputs; record them done in the new run."""
    earlier = job.plan[: job.plan.index(before)]
    for old in StageRun.objects.filter(
        job=job, run=job.run - 1, stage__in=earlier, status=StageRun.Status.DONE
    ):
        reused = StageRun.objects.create(
            job=job, run=job.run, stage=old.stage, attempt=1, status=StageRun.Status.DONE,
            duration_ms=0, output_key=old.output_key,
            reused_from_run=old.reused_from_run or old.run,  # the run that did the work
        )
        # No work was done in this run: it finished the moment it started.
        StageRun.objects.filter(pk=reused.pk).update(finished_at=reused.started_at)
