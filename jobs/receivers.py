"""Receivers of job_finished / job_failed: broadcast the event and call the job's webhook.

Signals are sent after the commit, so these send their messages at once.
"""

import logging
from typing import Any

from jobs import notifications
from jobs.events import event_payload
from jobs.models import Job
from jobs.queueing import send_now
from jobs.signals import job_failed, job_finished

logger = logging.getLogger(__name__)


def broadcast(sender: type[Job], job: Job, **_: Any) -> None:
    """Publish to the fanout exchange now; if RabbitMQ refuses, hand it to a retrying actor."""
    payload = event_payload(job)
    try:
        notifications.broadcast(payload)
    except Exception:
        logger.exception("job %s: could not publish its event now, retrying later", job.id)
        send_now("publish_processed_event", payload)


def call_webhook(sender: type[Job], job: Job, **_: Any) -> None:
    if job.webhook_url:
        send_now("deliver_webhook", job.webhook_url, event_payload(job))


def connect() -> None:
    for name, signal in (("finished", job_finished), ("failed", job_failed)):
        signal.connect(broadcast, sender=Job, dispatch_uid=f"photopipe-broadcast-{name}")
        signal.connect(call_webhook, sender=Job, dispatch_uid=f"photopipe-webhook-{name}")
