"""The webhook delivery log: every attempt, its answer, duration and error (admin: Webhook
deliveries, with redeliver)."""

import logging
from typing import Any

from django.db import DatabaseError
from dramatiq.middleware import CurrentMessage

from jobs.events import event_payload
from jobs.models import Job
from jobs.queueing import send_now
from jobs.webhook_models import WebhookDelivery

logger = logging.getLogger(__name__)


def current_attempt() -> int:
    """1 + the retries of the message being processed (1 outside an actor)."""
    message = CurrentMessage.get_current_message()
    return 1 + int(message.options.get("retries", 0)) if message is not None else 1


def delivery_record(
    *, url: str, payload: dict[str, Any], outcome: str, duration_ms: int,
    status_code: int | None = None, error: str = "",
) -> None:
    """Log one attempt. Never raises: losing a log line must not fail or repeat a delivery."""
    job_id = payload.get("job_id")
    try:
        if not Job.objects.filter(pk=job_id).exists():
            return  # deleted meanwhile: its log went with it
        WebhookDelivery.objects.create(
            job_id=job_id, url=url[:500], event=str(payload.get("event", ""))[:32],
            attempt=current_attempt(), outcome=outcome, status_code=status_code,
            duration_ms=max(0, duration_ms), error=error[:2000],
        )
    except (DatabaseError, ValueError):
        logger.exception("could not log the webhook delivery of job %s", job_id)


def webhook_redeliver(*, job_id: Any) -> bool:
    """Send the job's current event to its webhook again (a fresh retry budget). False when
    the job has no webhook or has not finished."""
    job = Job.objects.get(pk=job_id)
    if not job.webhook_url or job.status not in Job.ANNOUNCED:
        return False
    send_now("deliver_webhook", job.webhook_url, event_payload(job))
    return True
