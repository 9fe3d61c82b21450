"""/healthz, /readyz and `manage.py readycheck` in embedded mode, with faults made real by
pointing a check at a closed port or at a server that accepts connections and never answers."""

import socket
import time
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client, override_settings

from photopipe import health


def closed_port() -> int:
    """A port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that completes the TCP handshake (the kernel's backlog) but never says a word,
    like a service that hangs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def s3_storages(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "photopipe", "endpoint_url": f"http://127.0.0.1:{port}",
                "access_key": "testing", "secret_key": "testing", "region_name": "us-east-1",
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def amqp_url(port: int) -> str:
    return f"amqp://guest:guest@127.0.0.1:{port}/%2F"


def test_healthz_answers_without_touching_the_database() -> None:
    # No django_db mark: pytest-django makes any database access here an error.
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ok_in_embedded_mode_with_each_part_named(settings) -> None:
    settings.RABBITMQ_URL = ""  # embedded: the in-process broker (`make test` exports one)
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert {name: part["status"] for name, part in body["checks"].items()} == {
        "database": "ok", "broker": "ok", "storage": "ok",
    }
    assert body["checks"]["broker"]["detail"] == "embedded (in-process broker)"
    assert body["checks"]["database"]["detail"] == connection.vendor


@pytest.mark.django_db
def test_readyz_answers_503_naming_the_broker_when_rabbitmq_refuses() -> None:
    with override_settings(RABBITMQ_URL=amqp_url(closed_port())):
        response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failing"] == ["broker"]
    assert body["checks"]["broker"] == {
        "status": "failing", "ms": body["checks"]["broker"]["ms"],
        "detail": "AMQPConnectionError",  # the type only: no host or port over HTTP
    }
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_tries_every_node_of_a_url_list_and_fails_when_none_answers() -> None:
    # Dramatiq's "url1;url2" form for a cluster; the success case is in tests/integration.
    with override_settings(RABBITMQ_URL=f"{amqp_url(closed_port())};{amqp_url(closed_port())}"):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


@pytest.mark.django_db
def test_readyz_answers_503_naming_the_storage_when_s3_refuses() -> None:
    with override_settings(STORAGES=s3_storages(closed_port())):
        response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["storage"]
    assert body["checks"]["storage"]["detail"] == "EndpointConnectionError"
    assert body["checks"]["broker"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_gives_up_on_services_that_hang_within_seconds(silent_port: int) -> None:
    # The stages' S3 client would wait 30 s three times; the probe's gives up after one try.
    started = time.monotonic()
    with override_settings(RABBITMQ_URL=amqp_url(silent_port),
                           STORAGES=s3_storages(silent_port)):
        response = Client().get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker", "storage"]
    assert elapsed < 3 * health.TIMEOUT_S, f"/readyz took {elapsed:.1f} s"


@pytest.mark.django_db
def test_readycheck_command_lists_every_part_and_succeeds(capsys) -> None:
    call_command("readycheck")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["database", "ok"], ["broker", "ok"], ["storage", "ok"],
    ]


@pytest.mark.django_db
def test_readycheck_command_fails_naming_the_part_and_the_error(capsys) -> None:
    port = closed_port()
    with override_settings(RABBITMQ_URL=amqp_url(port)), \
            pytest.raises(CommandError, match=r"^not ready: broker$"):
        call_command("readycheck")
    broker_line = next(line for line in capsys.readouterr().out.splitlines()
                       if line.startswith("broker"))
    assert "FAILING" in broker_line and "AMQPConnectionError" in broker_line
