"""The retrying actors of a batch's announcement (jobs/batches.py): its event on
processed_images when RabbitMQ refused it at first, and its webhook."""

import logging
from typing import Any

import dramatiq

from jobs import events, webhooks
from jobs.models import Batch
from jobs.webhook_models import WebhookSecret

logger = logging.getLogger(__name__)

_RETRIES = {"max_retries": 8, "min_backoff": 2000, "max_backoff": 300_000}


@dramatiq.actor(queue_name="events", **_RETRIES)
def publish_batch_event(payload: dict[str, Any]) -> None:
    events.publish_processed(payload)


@dramatiq.actor(queue_name="webhooks", **_RETRIES)
def deliver_batch_webhook(url: str, payload: dict[str, Any]) -> None:
    """Signed with the batch owner's secret; a refused address is final, other failures
    raise so the actor retries them."""
    owner = Batch.objects.filter(pk=payload["batch_id"]).values_list("owner", flat=True).first()
    if owner is None:
        return  # the batch (or its owner) is gone: no secret to sign with
    secret = WebhookSecret.objects.get_or_create(user_id=owner)[0].secret
    try:
        webhooks.deliver(url, payload, secret=secret)
    except webhooks.WebhookRefused as refusal:
        logger.warning("webhook of batch %s refused, not retried: %s", payload["batch_id"],
                       refusal)
