"""Completion events on the RabbitMQ fanout exchange ``processed_images``: the payload and
the publish, nothing else (jobs/notifications.py records that an event went out)."""

import json
import logging
from typing import Any

import dramatiq
import pika
from django.conf import settings
from django.urls import reverse

from jobs.models import Job

logger = logging.getLogger(__name__)

EXCHANGE = "processed_images"


def event_payload(job: Job) -> dict[str, Any]:
    """The JSON body subscribers and webhooks receive."""
    detections = job.detections or {}
    return {
        "event": f"job.{job.status}",
        "job_id": str(job.id),
        "status": job.status,
        "stage": job.stage,
        # An API path, never a storage key: receivers need not learn where files lie.
        "result": (
            reverse("job-result", args=[job.pk]) if job.status == Job.Status.COMPLETED else None
        ),
        "labels": detections.get("labels", []),
        "faces": len(detections.get("faces", [])),
        "error": job.error or None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def declare_exchange(channel: Any) -> None:
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="fanout", durable=True)


def connect(*, timeout_s: float | None = None) -> pika.BlockingConnection:
    """A connection to RabbitMQ: the first node of RABBITMQ_URL that answers (Dramatiq takes
    "url1;url2", the nodes of a cluster, and so does everything else that connects). With
    ``timeout_s`` every step gives up after that long: probes and the admin must not hang."""
    candidates = [pika.URLParameters(url) for url in settings.RABBITMQ_URL.split(";")]
    if timeout_s is not None:
        for params in candidates:
            params.connection_attempts = 1
            params.socket_timeout = params.stack_timeout = timeout_s
            params.blocked_connection_timeout = timeout_s
    return pika.BlockingConnection(candidates)


def publish_processed(payload: dict[str, Any]) -> bool:
    """Publish one persistent message, confirmed by the broker. False in embedded mode."""
    if not settings.RABBITMQ_URL:
        logger.info("processed (no RabbitMQ, not broadcast): %s", json.dumps(payload))
        return False
    # Dramatiq's broker keeps one channel per thread with publisher confirms on: reusing it
    # spares every completion a new TCP connection and AMQP handshake.
    broker = dramatiq.get_broker()
    try:
        channel = broker.channel
        declare_exchange(channel)
        channel.basic_publish(
            exchange=EXCHANGE, routing_key="", body=json.dumps(payload).encode(),
            properties=pika.BasicProperties(
                content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent,
            ),
        )
    except pika.exceptions.AMQPError:
        del broker.connection  # a broken connection: the next use (or the retry) reconnects
        raise
    return True
