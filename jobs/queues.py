"""Which queues each kind of worker consumes.

Stage workers take the stages of the registry (one queue each) and the ``control`` queue of
"retries ran out" callbacks. Deliveries (webhooks, and the retry path of completion events)
have workers of their own, so a slow or hostile webhook endpoint never occupies a thread that
should be processing images: in compose the ``worker-webhooks`` service, under ``make worker``
a second process, in embedded mode a second in-process worker.
"""

from jobs import stages

CONTROL = "control"
EVENTS = "events"
WEBHOOKS = "webhooks"

DELIVERY_QUEUES: tuple[str, ...] = (WEBHOOKS, EVENTS)


def stage_worker_queues() -> tuple[str, ...]:
    return (*(stage.queue for stage in stages.STAGES), CONTROL)
