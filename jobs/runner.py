"""Runs one stage of one job: claim, read the input, work, record. The body of every stage
actor."""

import logging
import threading

import dramatiq
from dramatiq.middleware import TimeLimit, TimeLimitExceeded

import processing
from jobs import handoff as handoffs
from jobs import leases, redelivery, services, stages, storage
from jobs.models import Job, StageRun
from jobs.stage_work import WorkControl

logger = logging.getLogger(__name__)


class MissingInput(Exception):
    """A stage's input is gone from storage (deleted): retrying cannot bring it back."""


# Failures that retrying cannot fix: the job fails at once, with the reason.
PERMANENT = (processing.ImageError, processing.InvalidStep, MissingInput)
# Heavy work gets its own deadline this long before Dramatiq's time limit, so the child doing
# it is killed by us (TimeLimit checks only once a second and cannot interrupt a C call).
DEADLINE_MARGIN_S = 2.0


def run_stage(job_id: str, stage_name: str, handoff: handoffs.Handoff | None = None) -> None:
    """Permanent errors (a bad image) fail the job at once; anything else is re-raised so
    Dramatiq retries it with backoff (storage, database and network hiccups, time limits).

    ``handoff``: the input image as the stage before sent it (used only if it is exactly the
    object this attempt would read from storage)."""
    stage = stages.get(stage_name)
    try:
        stage_run = services.stage_claim(job_id=job_id, stage=stage.name)
    except leases.StageBusy as busy:
        # Another delivery is working on it: come back when it should be done (or dead).
        raise dramatiq.Retry(str(busy), delay=busy.delay_ms) from None
    if stage_run is None:
        logger.info(
            "job %s: nothing to do for %s (done, moved on or cancelled)", job_id, stage.name
        )
        if redelivery.is_redelivery():  # its next-stage message may have been refused
            redelivery.resend_next_stage(job_id, stage.name)
        return
    with leases.attempt_in_flight(stage_run):
        try:
            # The row stage_claim locked and saved a moment ago: no second read.
            job = stage_run.job
            source = _read_input(stage_run, handoff)
            output = stage.work(job, source, _control(job, stage))
        except processing.WorkCancelled:
            _disarm_time_limit()
            logger.info("job %s: %s stopped, the job was cancelled", job_id, stage.name)
            return  # job_cancel closed the attempt; nothing to record
        except processing.WorkTimedOut:
            _disarm_time_limit()
            reason = f"{stage.name} took longer than its time limit"
            services.attempt_fail(stage_run=stage_run, reason=reason, permanent=False)
            raise
        except PERMANENT as error:
            _disarm_time_limit()
            services.attempt_fail(stage_run=stage_run, reason=str(error), permanent=True)
            return
        except TimeLimitExceeded:
            _disarm_time_limit()
            reason = f"{stage.name} took longer than its time limit"
            services.attempt_fail(stage_run=stage_run, reason=reason, permanent=False)
            raise
        except Exception as error:
            _disarm_time_limit()
            services.attempt_fail(stage_run=stage_run, reason=_describe(error), permanent=False)
            raise
        # The work is done: an interrupt now would only break the bookkeeping (a rolled-back
        # completion, or a next-stage message lost after the commit).
        _disarm_time_limit()
        services.stage_complete(stage_run=stage_run, output=output, input_data=source)


def _control(job: Job, stage: stages.Stage) -> WorkControl:
    def stopped() -> bool:
        """The job was cancelled, deleted or started a new run: this attempt is moot."""
        return not Job.objects.filter(pk=job.pk, run=job.run, status__in=Job.ACTIVE).exists()

    deadline_s = max(1.0, stage.time_limit() / 1000 - DEADLINE_MARGIN_S)
    return WorkControl(deadline_s=deadline_s, should_stop=stopped)


def _read_input(stage_run: StageRun, handoff: handoffs.Handoff | None) -> bytes:
    job, stage = stage_run.job, stage_run.stage
    key = stage_run.input_key  # stage_claim found it in the query it made anyway
    source = stages.input_stage(job.plan, stage)
    what = f"the output of {source}" if source else "the original image"
    if not key:
        raise MissingInput(f"{stage} needs {what}, which is missing")
    handed = handoffs.unpack(handoff, key=key, run=stage_run.run)
    if handed is not None:
        return handed
    # Both local files and django-storages' S3 raise FileNotFoundError for a missing object;
    # an unreachable S3 raises something else and stays a transient, retried error.
    try:
        return storage.read_bytes(key)
    except FileNotFoundError:
        raise MissingInput(f"{what} is missing from storage ({key})") from None


def _disarm_time_limit() -> None:
    for middleware in dramatiq.get_broker().middleware:
        if isinstance(middleware, TimeLimit):
            middleware.manager.remove_timeout(threading.get_ident())


def _describe(error: Exception) -> str:
    text = str(error) or "no details"
    return f"{type(error).__name__}: {text}"
