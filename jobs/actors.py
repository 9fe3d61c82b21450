"""Dramatiq actors: thin entry points that take ids and call jobs.runner / services.

Each pipeline stage has its own queue of the same name, so each scales on its own.
"""

from typing import Any

import dramatiq
from django.conf import settings

from jobs import events, runner, services, webhooks
from jobs.stages import DETECT, FILTERS, RESIZE, WATERMARK

_conf = settings.PHOTOPIPE
_RETRIES = {
    "max_retries": _conf["STAGE_MAX_RETRIES"],
    "min_backoff": _conf["RETRY_MIN_BACKOFF_MS"],
    "max_backoff": _conf["RETRY_MAX_BACKOFF_MS"],
}
def _retry_stage(retries: int, error: BaseException) -> bool:
    """Errors use up the retry budget; waiting for a busy attempt (dramatiq.Retry) does not,
    since its lease bounds the wait anyway."""
    return isinstance(error, dramatiq.Retry) or retries < _conf["STAGE_MAX_RETRIES"]


_STAGE_OPTIONS = {
    **_RETRIES,
    "retry_when": _retry_stage,
    "time_limit": _conf["STAGE_TIME_LIMIT_MS"],
    "on_retry_exhausted": "stage_gave_up",
}


@dramatiq.actor(actor_name=RESIZE, queue_name=RESIZE, **_STAGE_OPTIONS)
def resize(job_id: str) -> None:
    runner.run_stage(job_id, RESIZE)


@dramatiq.actor(actor_name=FILTERS, queue_name=FILTERS, **_STAGE_OPTIONS)
def filters(job_id: str) -> None:
    runner.run_stage(job_id, FILTERS)


@dramatiq.actor(actor_name=WATERMARK, queue_name=WATERMARK, **_STAGE_OPTIONS)
def watermark(job_id: str) -> None:
    runner.run_stage(job_id, WATERMARK)


@dramatiq.actor(actor_name=DETECT, queue_name=DETECT, **_STAGE_OPTIONS)
def detect(job_id: str) -> None:
    runner.run_stage(job_id, DETECT)


@dramatiq.actor(queue_name="control", max_retries=_conf["STAGE_MAX_RETRIES"])
def stage_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Retries ran out for a stage message: fail its job with the last error."""
    job_id, stage = message["args"][0], message["actor_name"]
    services.job_fail(
        job_id=job_id, stage=stage,
        reason=f"{stage} gave up after {retry_info.get('retries', 0) + 1} tries",
    )


@dramatiq.actor(queue_name="events", **_RETRIES)
def publish_processed_event(payload: dict[str, Any]) -> None:
    """Retry path for a completion event the in-process receiver could not publish."""
    events.broadcast(payload)


@dramatiq.actor(queue_name="webhooks", max_retries=8, min_backoff=2000, max_backoff=300_000)
def deliver_webhook(url: str, payload: dict[str, Any]) -> None:
    webhooks.deliver(url, payload)


_BY_NAME = {
    actor.actor_name: actor
    for actor in (resize, filters, watermark, detect, stage_gave_up, publish_processed_event,
                  deliver_webhook)
}


def by_name(name: str) -> dramatiq.Actor:
    return _BY_NAME[name]
