"""/readyz and `manage.py readycheck` on the real stack, each dependency taken away for real:
RabbitMQ and PostgreSQL by pointing the check at a port nothing listens on, S3 by closing the
endpoint's port (`scripts/services.sh s3-down`)."""

import json
import os
import socket
import subprocess
import sys

import pytest
from django.test import Client, override_settings

from tests.integration.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(autouse=True)
def _stack(real_services) -> None:
    """Skip without `make services`."""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def services_sh(*args: str) -> None:
    subprocess.run(["bash", "scripts/services.sh", *args], cwd=ROOT, check=True,
                   capture_output=True, timeout=120, env={**os.environ, "SERVICES_TIMEOUT": "60"})


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """A fresh process, as a container's healthcheck runs it, with `env` overriding ours."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def statuses(body: dict) -> dict[str, str]:
    return {name: part["status"] for name, part in body["checks"].items()}


@pytest.mark.django_db
def test_readyz_is_ok_with_postgres_rabbitmq_and_s3() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert statuses(body) == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert [part["detail"] for part in body["checks"].values()] == [
        "postgresql", "rabbitmq", "S3Storage",
    ]


@pytest.mark.django_db
def test_readyz_names_the_broker_when_rabbitmq_is_unreachable() -> None:
    url = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"
    with override_settings(RABBITMQ_URL=url):
        response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert statuses(body) == {"database": "ok", "broker": "failing", "storage": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_one_node_of_a_url_list_answers() -> None:
    # Dramatiq's "url1;url2" form for a cluster, with the first node down.
    urls = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F;{os.environ['RABBITMQ_URL']}"
    with override_settings(RABBITMQ_URL=urls):
        response = Client().get("/readyz")
    assert response.status_code == 200, response.content


def test_readyz_and_readycheck_name_the_database_when_postgres_is_unreachable() -> None:
    unreachable = f"postgres://photopipe:photopipe@127.0.0.1:{closed_port()}/photopipe"

    check = manage("readycheck", DATABASE_URL=unreachable)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "not ready: database" in check.stderr
    lines = {line.split()[0]: line for line in check.stdout.splitlines()}
    assert "FAILING" in lines["database"] and "OperationalError" in lines["database"]
    assert lines["broker"].split()[1] == "ok" and lines["storage"].split()[1] == "ok"

    probe = manage(
        "shell", "-c",
        "import json; from django.test import Client; r = Client().get('/readyz'); "
        "print(json.dumps({'code': r.status_code, 'body': r.json()}))",
        DATABASE_URL=unreachable,
    )
    answer = json.loads(probe.stdout.strip().splitlines()[-1])
    assert answer["code"] == 503, probe.stderr
    assert answer["body"]["failing"] == ["database"]
    assert answer["body"]["checks"]["database"]["detail"] == "OperationalError"

    # The same command passes against the running database.
    assert manage("readycheck").returncode == 0


@pytest.mark.django_db
def test_readyz_names_the_storage_while_s3_is_down_and_recovers() -> None:
    services_sh("s3-down")
    try:
        response = Client().get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["storage"]
        assert body["checks"]["storage"]["detail"] == "EndpointConnectionError"
    finally:
        services_sh("s3-up")
    assert Client().get("/readyz").status_code == 200
