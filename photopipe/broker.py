"""Dramatiq broker settings for django_dramatiq, chosen from the environment."""

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    # Lets a stage see that its message is a redelivery (jobs.redelivery).
    "dramatiq.middleware.CurrentMessage",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    # Starts the killable children heavy filter plans run in (processing.run_filters).
    "jobs.worker_boot.FilterIsolation",
    # Returns what finished jobs freed to the system, so resident memory stays flat.
    "jobs.memory.MemoryTrim",
]


# Worker metrics: counts and durations of every message, served with the jobs' own metrics
# (jobs/metrics.py) from PROMETHEUS_MULTIPROC_DIR by a small HTTP server Dramatiq forks
# (port $dramatiq_prom_port, 9191). docker/start-worker sets the directory up.
_WORKER_METRICS = "dramatiq.middleware.prometheus.Prometheus"


def dramatiq_broker_settings(
    rabbitmq_url: str, blocked_timeout_s: float = 1.0, worker_metrics: bool = False
) -> dict[str, Any]:
    """RabbitMQ with publisher confirms when a URL is given, else the in-process StubBroker."""
    if rabbitmq_url:
        return {
            "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
            # confirm_delivery: a publish returns only once RabbitMQ has taken the message, so
            # a job is never reported queued while its message is lost in a socket buffer.
            "OPTIONS": {
                "url": with_blocked_timeout(rabbitmq_url, blocked_timeout_s),
                "confirm_delivery": True,
            },
            "MIDDLEWARE": _MIDDLEWARE + ([_WORKER_METRICS] if worker_metrics else []),
        }
    return {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": _MIDDLEWARE,
    }


def with_blocked_timeout(url: str, seconds: float) -> str:
    """The URL(s) with pika's ``blocked_connection_timeout``, unless they already set it.

    Under a resource alarm (disk or memory) RabbitMQ blocks publishing connections, and a
    confirmed publish would wait for the alarm to clear: an upload would hang. With this pika
    closes a connection blocked for ``seconds``; Dramatiq tries 6 connections, then the publish
    fails (the job stays queued for the reaper to re-send). A publish already written to the
    socket may still arrive when the alarm clears: a duplicate message, which stages ignore.
    """
    parts = []
    for one in url.split(";"):  # Dramatiq takes several URLs separated by ';'
        split = urlsplit(one)
        query = parse_qsl(split.query)
        if not any(name == "blocked_connection_timeout" for name, _ in query):
            query.append(("blocked_connection_timeout", f"{seconds:g}"))
        parts.append(urlunsplit(split._replace(query=urlencode(query))))
    return ";".join(parts)
