"""Dramatiq actors: thin entry points that take ids and call jobs.runner / services.

One actor per stage of the registry (jobs/stages.py), each on its own queue of the same name,
so each scales on its own.
"""

from typing import Any

import dramatiq
from django.conf import settings

from jobs import handoff as handoffs
from jobs import notifications, queues, runner, services, stages, webhooks

_conf = settings.PHOTOPIPE
_BACKOFF = {
    "min_backoff": _conf["RETRY_MIN_BACKOFF_MS"],
    "max_backoff": _conf["RETRY_MAX_BACKOFF_MS"],
}
_RETRIES = {**_BACKOFF, "max_retries": _conf["STAGE_MAX_RETRIES"]}


def _retry_stage(retries: int, error: BaseException) -> bool:
    """Errors use up the retry budget; waiting for a busy attempt (dramatiq.Retry) does not,
    since its lease bounds the wait anyway. (retry_when replaces max_retries.)"""
    return isinstance(error, dramatiq.Retry) or retries < _conf["STAGE_MAX_RETRIES"]


def _stage_actor(stage: stages.Stage) -> dramatiq.Actor:
    """The actor of one pipeline stage, on its own queue."""

    # handoff: the input image, when the stage before sent it along (jobs/handoff.py). A
    # keyword argument, so a message's args stay [job_id] for the admin and the sweeper.
    def run(job_id: str, handoff: handoffs.Handoff | None = None) -> None:
        runner.run_stage(job_id, stage.name, handoff)

    run.__name__ = run.__qualname__ = stage.name
    return dramatiq.actor(
        run, actor_name=stage.name, queue_name=stage.queue, retry_when=_retry_stage,
        time_limit=stage.time_limit(), on_retry_exhausted="stage_gave_up", **_BACKOFF,
    )


STAGE_ACTORS: dict[str, dramatiq.Actor] = {
    stage.name: _stage_actor(stage) for stage in stages.STAGES
}


@dramatiq.actor(queue_name=queues.CONTROL, max_retries=_conf["STAGE_MAX_RETRIES"])
def stage_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Retries ran out for a stage message: fail its job with the last error."""
    job_id, stage = message["args"][0], message["actor_name"]
    services.stage_give_up(
        job_id=job_id, stage=stage,
        reason=f"{stage} gave up after {retry_info.get('retries', 0) + 1} tries",
    )


@dramatiq.actor(queue_name=queues.EVENTS, **_RETRIES)
def publish_processed_event(payload: dict[str, Any]) -> None:
    """Retry path for a completion event the in-process receiver could not publish."""
    notifications.broadcast(payload)


@dramatiq.actor(queue_name=queues.WEBHOOKS, max_retries=8, min_backoff=2000, max_backoff=300_000)
def deliver_webhook(url: str, payload: dict[str, Any]) -> None:
    webhooks.deliver_job_event(url, payload)
