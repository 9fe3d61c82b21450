"""The real stack: PostgreSQL, RabbitMQ, the S3 endpoint and `rundramatiq` subprocesses.

`make test` starts the services (`make services`) and exports their variables; without them
these tests are skipped with the reason.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import pika
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from jobs import retention
from jobs.models import Job
from jobs.stages import ALL_STAGES
from tests.helpers import upload_file  # noqa: F401 - the integration tests import it from here

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {Job.Status.COMPLETED, Job.Status.FAILED, Job.Status.CANCELLED}
WORKER_WEBHOOK_ALLOW = "127.0.0.1/32"


def staff_api() -> APIClient:
    """An API client signed in as a staff user (sees every job, as the tests need); the user
    goes with the test's database flush."""
    user, _ = get_user_model().objects.get_or_create(
        username="integration-staff", defaults={"is_staff": True}
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


def _services_missing() -> str:
    missing = [
        name for name in ("DATABASE_URL", "RABBITMQ_URL", "AWS_STORAGE_BUCKET_NAME")
        if not os.environ.get(name)
    ]
    return ", ".join(missing)


@pytest.fixture(scope="session")
def real_services() -> None:
    missing = _services_missing()
    if missing:
        pytest.skip(f"needs `make services` (unset: {missing})")
    assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def _test_database_url() -> str:
    """DATABASE_URL pointing at the database pytest-django created for this session."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


def services_sh(*args: str) -> None:
    """scripts/services.sh (restart, s3-down, s3-up ...) on the services all tests share."""
    # SERVICES_TIMEOUT bounds each wait inside the script, so a restart (stop + start) ends
    # well within this call's own timeout even on a slow machine.
    subprocess.run(["bash", "scripts/services.sh", *args], cwd=ROOT, check=True,
                   capture_output=True, timeout=300, env={**os.environ, "SERVICES_TIMEOUT": "60"})


def rabbitmqctl(*args: str) -> str:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    done = subprocess.run([*sudo, "rabbitmqctl", *args], check=True, capture_output=True,
                          text=True, timeout=60)
    return done.stdout


def purge_queues() -> None:
    """Drop messages a previous run left behind (they would name jobs that no longer exist)."""
    broker = dramatiq.get_broker()
    del broker.connection  # a fresh one: this thread's may have died in a RabbitMQ restart
    for queue in broker.get_declared_queues():
        broker.declare_queue(queue, ensure=True)
        broker.flush(queue)


def consumers_on(queue: str) -> int:
    with pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"])) as conn:
        return conn.channel().queue_declare(queue, passive=True).method.consumer_count


class WorkerProcess:
    """A `manage.py rundramatiq` process group that tests can kill and start again."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self, **extra_env: str) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "rundramatiq", "--processes", "1",
                 "--threads", "2"],
                cwd=ROOT, env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_until_consuming()

    def wait_until_consuming(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.output()[-3000:]}")
            try:
                if all(consumers_on(stage) > 0 for stage in ALL_STAGES):
                    return
            except pika.exceptions.AMQPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"worker not consuming after {timeout}s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 the whole group: no cleanup, no ack; RabbitMQ redelivers what it held."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # The leader only: dramatiq's main process stops its workers gracefully; a second
        # SIGTERM reaching the workers directly would make them exit at once.
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture(scope="session")
def worker(real_services, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[
    WorkerProcess
]:
    """One real worker for the session, consuming every queue of the test database."""
    purge_queues()
    env = {
        **os.environ, "DATABASE_URL": _test_database_url(), "PYTHONUNBUFFERED": "1",
        # Webhook receivers of the tests listen on 127.0.0.1; 127.0.0.2 stays refused.
        "PHOTOPIPE_WEBHOOK_ALLOW": WORKER_WEBHOOK_ALLOW,
    }
    process = WorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log", env)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        # Delayed retries the worker held (duplicates left by fault tests) are back in their
        # queues now that it has stopped: drop them too, so the broker is left empty.
        purge_queues()


class Reaper:
    """`manage.py resume_jobs --every N --older-than S`, the compose reaper with short times."""

    def __init__(self, log_path: Path, env: dict[str, str], *, every: int, older_than: int):
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "resume_jobs", "--every", str(every),
                 "--older-than", str(older_than)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.log_path = log_path

    def resumed(self) -> list[str]:
        """Ids of the jobs it re-sent so far."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line.split(":")[0] for line in lines if line.endswith(": resumed")]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def reaper(worker, tmp_path) -> Iterator[Reaper]:
    """The reaper against the test database: every 1 s, jobs idle for 20 s are re-sent."""
    process = Reaper(tmp_path / "reaper.log", worker.env, every=1, older_than=20)
    try:
        yield process
    finally:
        process.stop()


def wait_for_terminal(job_id: object, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status in TERMINAL:
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} still {job.status} at {job.stage} after {timeout}s")


@pytest.fixture
def processed_events() -> Iterator["EventQueue"]:
    queue = EventQueue()
    yield queue
    queue.close()


@pytest.fixture
def durable_events() -> Iterator["DurableEventQueue"]:
    queue = DurableEventQueue()
    yield queue
    queue.delete()


class DurableEventQueue:
    """A durable queue bound to processed_images: like a real subscriber's, it keeps the
    (persistent) events across a RabbitMQ restart. Read it once the jobs are done."""

    def __init__(self) -> None:
        from jobs.events import EXCHANGE, declare_exchange

        self.name = f"photopipe-test-events-{uuid.uuid4().hex[:8]}"
        with self._connect() as connection:
            channel = connection.channel()
            declare_exchange(channel)
            channel.queue_declare(self.name, durable=True)
            channel.queue_bind(self.name, EXCHANGE)

    @staticmethod
    def _connect() -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"]))

    def drain(self) -> list[dict]:
        """Every event received so far (removed from the queue)."""
        import json

        events = []
        with self._connect() as connection:
            channel = connection.channel()
            while True:
                method, _props, body = channel.basic_get(self.name, auto_ack=True)
                if method is None:
                    return events
                events.append(json.loads(body))

    def delete(self) -> None:
        with self._connect() as connection:
            connection.channel().queue_delete(self.name)


class EventQueue:
    """A private queue bound to the processed_images fanout exchange, like a subscriber's."""

    def __init__(self) -> None:
        from jobs.events import EXCHANGE, declare_exchange

        self.connection = pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"]))
        self.channel = self.connection.channel()
        declare_exchange(self.channel)
        self.name = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.name, EXCHANGE)

    def wait_for(self, job_id: object, timeout: float = 30) -> dict:
        import json

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, _props, body = self.channel.basic_get(self.name, auto_ack=True)
            if method is None:
                time.sleep(0.2)
                continue
            event = json.loads(body)
            if event["job_id"] == str(job_id):
                return event
        raise TimeoutError(f"no processed_images event for {job_id} in {timeout}s")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def delete_jobs_after() -> Iterator[None]:
    """The jobs' objects live in the shared S3 bucket: delete them with their jobs."""
    yield
    for job_id in Job.objects.values_list("pk", flat=True):
        retention.job_delete(job_id=job_id)
