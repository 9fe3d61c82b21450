"""Runs one stage of one job: claim, work, record. The body of every stage actor."""

import logging

import processing
from jobs import services
from jobs.models import Job
from jobs.stage_work import STAGE_WORK

logger = logging.getLogger(__name__)


def run_stage(job_id: str, stage: str) -> None:
    """Permanent errors (a bad image) fail the job at once; anything else is re-raised so
    Dramatiq retries it with backoff (storage, database and network hiccups)."""
    stage_run = services.stage_claim(job_id=job_id, stage=stage)
    if stage_run is None:
        logger.info("job %s: nothing to do for %s (done, moved on or cancelled)", job_id, stage)
        return
    try:
        job = Job.objects.get(pk=job_id)
        output = STAGE_WORK[stage](job)
    except (processing.ImageError, processing.InvalidStep) as error:
        services.stage_fail(stage_run=stage_run, reason=str(error), permanent=True)
        return
    except Exception as error:
        services.stage_fail(stage_run=stage_run, reason=_describe(error), permanent=False)
        raise
    services.stage_complete(stage_run=stage_run, output=output)


def _describe(error: Exception) -> str:
    text = str(error) or "no details"
    return f"{type(error).__name__}: {text}"
