"""`make run`'s mode: one process, SQLite, local files, in-process broker and worker threads."""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.checks import assert_watermarked_resize_of

ROOT = Path(__file__).resolve().parents[2]
SERVICE_VARIABLES = (
    "DATABASE_URL", "RABBITMQ_URL", "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL",
    "DJANGO_SETTINGS_MODULE",
)

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


MANAGE = [sys.executable, "manage.py"]


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    """A bare machine's environment: no service variables, a fresh SQLite and media dir."""
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", MEDIA_ROOT=str(tmp_path / "media"),
        PYTHONUNBUFFERED="1",
    )
    subprocess.run([*MANAGE, "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return env


@pytest.fixture
def job_left_by_a_restart(embedded_env: dict[str, str]) -> str:
    """A job accepted by a process that then died: its in-process message died with it."""
    # Owned by the demo user, made here as run_embedded would, so its token can read it.
    script = (
        "from pathlib import Path; from django.contrib.auth.models import User; "
        "from jobs import services; from jobs.demo import demo_account_ensure; "
        "demo_account_ensure(); "
        "job = services.job_submit(data=Path('testdata/chelsea.png').read_bytes(), "
        "owner=User.objects.get(username='demo')); "
        "print(job.pk)"
    )
    done = subprocess.run([*MANAGE, "shell", "-c", script], cwd=ROOT, env=embedded_env,
                          check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def embedded_server(embedded_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The base URL of a `run_embedded` server (what `make run` starts)."""
    env, manage = embedded_env, MANAGE
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [*manage, "run_embedded", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(base, server, tmp_path / "server.log")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def demo(embedded_server: str, tmp_path: Path) -> requests.Session:
    """A session with the token of the demo user that run_embedded made and printed."""
    printed = (tmp_path / "server.log").read_text()
    match = re.search(r'-H "Authorization: Token (\w+)" http://\S+/api/v1/jobs/', printed)
    assert match, printed[-3000:]
    session = requests.Session()
    session.headers["Authorization"] = f"Token {match.group(1)}"
    return session


def _wait_for_http(base: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            requests.get(f"{base}/api/v1/", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise TimeoutError(f"server not answering:\n{log.read_text()[-3000:]}")


def _wait_until_finished(
    session: requests.Session, job_url: str, timeout: float = 90
) -> dict:
    deadline = time.monotonic() + timeout
    while (job := session.get(job_url, timeout=10).json())["status"] in ("queued", "processing"):
        assert time.monotonic() < deadline, f"job still {job['status']} at {job['stage']}"
        time.sleep(0.3)
    return job


def test_upload_completes_in_embedded_mode(embedded_server, demo, image_bytes, tmp_path):
    original = image_bytes("astronaut.png")
    printed = (tmp_path / "server.log").read_text()
    assert "created local user 'demo', password" in printed  # a fresh database
    assert "DEBUG is on" not in printed  # only `make run` turns it on
    anonymous = requests.get(f"{embedded_server}/api/v1/jobs/", timeout=10)
    assert anonymous.status_code == 401  # PHOTOPIPE_ANONYMOUS is off in `make run` too
    response = demo.post(
        f"{embedded_server}/api/v1/jobs/",
        files={"file": ("astronaut.png", original, "image/png")}, timeout=30,
    )
    assert response.status_code == 202, response.text
    job = _wait_until_finished(demo, response.json()["url"])
    assert job["status"] == "completed", job
    assert [entry["stage"] for entry in job["timeline"]] == ["resize", "watermark", "detect"]
    assert len(job["detections"]["faces"]) == 1
    result = demo.get(job["links"]["result"], timeout=10)
    assert result.status_code == 200 and result.headers["Content-Type"] == "image/jpeg"
    assert_watermarked_resize_of(result.content, original)


def test_jobs_left_unfinished_by_a_restart_are_resumed(
    job_left_by_a_restart, embedded_server, demo
):
    job = _wait_until_finished(demo, f"{embedded_server}/api/v1/jobs/{job_left_by_a_restart}/")
    assert job["status"] == "completed", job


def test_reprocess_command_beside_the_running_server_completes_the_job(
    embedded_server, embedded_env, demo, image_bytes
):
    """The command's own in-process broker dies with it: the server's sweep must send it."""
    upload = demo.post(
        f"{embedded_server}/api/v1/jobs/",
        files={"file": ("chelsea.png", image_bytes("chelsea.png"), "image/png")}, timeout=30,
    )
    first = _wait_until_finished(demo, upload.json()["url"])
    assert first["status"] == "completed" and first["run"] == 1, first
    done = subprocess.run(
        [*MANAGE, "reprocess", first["id"], "--from-stage", "detect"], cwd=ROOT,
        env=embedded_env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 job(s) requeued, 0 refused" in done.stdout
    assert "left queued for the running server" in done.stdout
    started = time.monotonic()
    again = _wait_until_finished(demo, upload.json()["url"], timeout=30)
    assert again["status"] == "completed" and again["run"] == 2, again
    assert time.monotonic() - started < 15  # the sweep (every 2 s), not a restart
    resumed = subprocess.run(
        [*MANAGE, "resume_jobs", "--older-than", "0"], cwd=ROOT, env=embedded_env,
        capture_output=True, text=True, timeout=60,
    )
    assert resumed.returncode == 0 and "0 job(s) are queued or processing" in resumed.stdout
