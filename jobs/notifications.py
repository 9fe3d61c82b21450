"""Completion events as a service: publish the event, then record that it went out."""

import logging
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from jobs import events
from jobs.models import Job

logger = logging.getLogger(__name__)


def broadcast(payload: dict[str, Any]) -> None:
    """Publish the event and mark the job notified (raises if RabbitMQ refuses).

    In embedded mode there is no RabbitMQ: nothing is published and notified_at stays empty.
    Once RabbitMQ has confirmed the event, failing to record it (the database restarting) is
    logged, not raised: raising would make the caller publish the same event again at once.
    The reaper re-sends it later instead (events are delivered at least once).
    """
    if not events.publish_processed(payload):
        return
    try:
        mark_notified(job_id=payload["job_id"], status=payload["status"])
    except DatabaseError:
        logger.warning("job %s: event published but not recorded; the reaper will re-send it",
                       payload["job_id"], exc_info=True)


def mark_notified(*, job_id: str, status: str) -> None:
    """Record that the event for ``status`` was broadcast (not if the job has moved on since)."""
    Job.objects.filter(pk=job_id, status=status, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
