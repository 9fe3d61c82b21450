"""Completion events on real RabbitMQ: the exchange is declared once per channel (a declare is
a round trip per job otherwise), and a publish after the exchange was deleted declares it
again instead of failing forever."""

import os
import uuid
from unittest import mock

import pika
import pytest

from jobs import events

pytestmark = pytest.mark.django_db


def payload() -> dict:
    return {"event": "job.completed", "job_id": str(uuid.uuid4()), "status": "completed"}


def test_the_exchange_is_declared_once_per_channel(durable_events) -> None:
    events._declared_on.clear()
    sent = [payload() for _ in range(3)]
    with mock.patch("jobs.events.declare_exchange", wraps=events.declare_exchange) as declare:
        for one in sent:
            assert events.publish_processed(one)
    assert declare.call_count == 1
    assert [e["job_id"] for e in durable_events.drain()] == [e["job_id"] for e in sent]


def test_a_deleted_exchange_is_declared_again(durable_events) -> None:
    assert events.publish_processed(payload())
    with pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"])) as connection:
        connection.channel().exchange_delete(events.EXCHANGE)
    with pytest.raises(pika.exceptions.AMQPError):
        events.publish_processed(payload())  # the channel still believes it declared it
    again = payload()
    assert events.publish_processed(again)  # a new channel: declared, published
    with pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"])) as connection:
        connection.channel().queue_bind(durable_events.name, events.EXCHANGE)
    assert events.publish_processed(again)
    assert [e["job_id"] for e in durable_events.drain()][-1] == again["job_id"]
