"""Runs one stage of one job: claim, work, record. The body of every stage actor."""

import logging
import threading

import dramatiq
from dramatiq.middleware import TimeLimit, TimeLimitExceeded

import processing
from jobs import redelivery, services
from jobs.models import Job
from jobs.stage_work import STAGE_WORK, MissingInput

logger = logging.getLogger(__name__)

# Failures that retrying cannot fix: the job fails at once, with the reason.
PERMANENT = (processing.ImageError, processing.InvalidStep, MissingInput)


def run_stage(job_id: str, stage: str) -> None:
    """Permanent errors (a bad image) fail the job at once; anything else is re-raised so
    Dramatiq retries it with backoff (storage, database and network hiccups, time limits)."""
    try:
        stage_run = services.stage_claim(job_id=job_id, stage=stage)
    except services.StageBusy as busy:
        # Another delivery is working on it: come back when it should be done (or dead).
        raise dramatiq.Retry(str(busy), delay=busy.delay_ms) from None
    if stage_run is None:
        logger.info("job %s: nothing to do for %s (done, moved on or cancelled)", job_id, stage)
        if redelivery.is_redelivery():  # its next-stage message may have been refused
            redelivery.resend_next_stage(job_id, stage)
        return
    with services.attempt_in_flight(stage_run):
        try:
            job = Job.objects.get(pk=job_id)
            output = STAGE_WORK[stage](job)
        except PERMANENT as error:
            _disarm_time_limit()
            services.stage_fail(stage_run=stage_run, reason=str(error), permanent=True)
            return
        except TimeLimitExceeded:
            _disarm_time_limit()
            reason = f"{stage} took longer than its time limit"
            services.stage_fail(stage_run=stage_run, reason=reason, permanent=False)
            raise
        except Exception as error:
            _disarm_time_limit()
            services.stage_fail(stage_run=stage_run, reason=_describe(error), permanent=False)
            raise
        # The work is done: an interrupt now would only break the bookkeeping (a rolled-back
        # completion, or a next-stage message lost after the commit).
        _disarm_time_limit()
        services.stage_complete(stage_run=stage_run, output=output)


def _disarm_time_limit() -> None:
    for middleware in dramatiq.get_broker().middleware:
        if isinstance(middleware, TimeLimit):
            middleware.manager.remove_timeout(threading.get_ident())


def _describe(error: Exception) -> str:
    text = str(error) or "no details"
    return f"{type(error).__name__}: {text}"
