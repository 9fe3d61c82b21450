"""Dramatiq broker settings for django_dramatiq, chosen from the environment."""

from typing import Any

_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
]


def dramatiq_broker_settings(rabbitmq_url: str) -> dict[str, Any]:
    """RabbitMQ with publisher confirms when a URL is given, else the in-process StubBroker."""
    if rabbitmq_url:
        return {
            "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
            # confirm_delivery: a publish returns only once RabbitMQ has taken the message, so
            # a job is never reported queued while its message is lost in a socket buffer.
            "OPTIONS": {"url": rabbitmq_url, "confirm_delivery": True},
            "MIDDLEWARE": _MIDDLEWARE,
        }
    return {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": _MIDDLEWARE,
    }
