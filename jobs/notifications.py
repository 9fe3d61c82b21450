"""Completion events as a service: publish the event, then record that it went out."""

from typing import Any

from django.utils import timezone

from jobs import events
from jobs.models import Job


def broadcast(payload: dict[str, Any]) -> None:
    """Publish the event and mark the job notified (raises if RabbitMQ refuses).

    In embedded mode there is no RabbitMQ: nothing is published and notified_at stays empty.
    """
    if events.publish_processed(payload):
        mark_notified(job_id=payload["job_id"], status=payload["status"])


def mark_notified(*, job_id: str, status: str) -> None:
    """Record that the event for ``status`` was broadcast (not if the job has moved on since)."""
    Job.objects.filter(pk=job_id, status=status, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
