"""Throttling is shared by every API process: counters live in PostgreSQL's cache table."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from tests.integration.conftest import ROOT, _test_database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RATE = 3  # requests per minute for one user, in both processes together


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_http(base: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"API process exited:\n{log.read_text()[-3000:]}")
        try:
            requests.get(f"{base}/api/v1/", timeout=2)  # 401 without a token: it answers
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise TimeoutError(f"API process not answering:\n{log.read_text()[-3000:]}")


@pytest.fixture
def api_process(real_services, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Starts `manage.py runserver` processes on the test database; yields a starter that
    returns each one's base URL."""
    env = {
        **os.environ, "DATABASE_URL": _test_database_url(), "PYTHONUNBUFFERED": "1",
        "PHOTOPIPE_THROTTLE_USER": f"{RATE}/min",
    }
    env.pop("PHOTOPIPE_CACHE_URL", None)
    started: list[tuple[subprocess.Popen, object]] = []

    def start() -> str:
        port = _free_port()
        log_path = tmp_path / f"api-{port}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        started.append((server, log))
        base = f"http://127.0.0.1:{port}"
        _wait_for_http(base, server, log_path)
        return base

    cache.clear()
    try:
        yield start
    finally:
        for server, log in started:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        cache.clear()  # the counters are rows of the shared test database's cache table


def test_a_client_throttled_by_one_api_process_is_throttled_by_another(api_process):
    assert settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache")
    user = get_user_model().objects.create_user("throttled")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    first, second = api_process(), api_process()

    codes = [requests.get(f"{first}/api/v1/jobs/", headers=headers, timeout=10).status_code
             for _ in range(RATE)]
    assert codes == [200] * RATE
    refused = requests.get(f"{second}/api/v1/jobs/", headers=headers, timeout=10)
    assert refused.status_code == 429, refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Content-Type"] == "application/json"
    # Per user, not per process-wide bucket: another user still gets through.
    other = get_user_model().objects.create_user("unthrottled")
    other_headers = {"Authorization": f"Token {Token.objects.create(user=other).key}"}
    assert requests.get(f"{second}/api/v1/jobs/", headers=other_headers,
                        timeout=10).status_code == 200
