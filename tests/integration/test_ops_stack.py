"""The ops console on the real stack: worker metrics scraped from Dramatiq's exposition
server, dead letters requeued on the real RabbitMQ, /metrics and the dashboard reading it."""

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pika
import pytest
import requests
from django.conf import settings
from django.test import Client

from jobs import queue_stats
from jobs.models import Job
from tests.integration.conftest import WorkerProcess, purge_queues, staff_api, wait_for_terminal

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def metrics_worker(worker: WorkerProcess, tmp_path: Path) -> Iterator[tuple[WorkerProcess, int]]:
    """The session's worker swapped for one with PHOTOPIPE_WORKER_METRICS=1 (as compose runs
    them), so every message of the test goes through it; the session's comes back after."""
    worker.stop()
    port = _free_port()
    metrics_dir = tmp_path / "worker-metrics"
    metrics_dir.mkdir()
    mine = WorkerProcess(tmp_path / "metrics-worker.log", worker.env)
    try:
        mine.start(PHOTOPIPE_WORKER_METRICS="1", dramatiq_prom_port=str(port),
                   dramatiq_prom_host="127.0.0.1", dramatiq_prom_db=str(metrics_dir),
                   PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
        yield mine, port
    finally:
        mine.stop()
        worker.start()


def _scrape(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=3).text
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "worker metrics server not answering"
            time.sleep(0.3)


def test_worker_metrics_are_scraped_from_the_workers_port(metrics_worker, image_bytes):
    process, port = metrics_worker
    upload = io.BytesIO(image_bytes("chelsea.png"))
    upload.name = "chelsea.png"
    accepted = staff_api().post("/api/v1/jobs/", {"file": upload}, format="multipart").json()
    job = wait_for_terminal(accepted["id"])
    assert job.status == Job.Status.COMPLETED, process.output()[-2000:]
    # The completion is counted just after its commit (job_finished is sent on commit).
    deadline = time.monotonic() + 15
    while 'photopipe_jobs_finished_total{status="completed"} 1.0' not in (text := _scrape(port)):
        assert time.monotonic() < deadline, text
        time.sleep(0.3)
    # Dramatiq's own counters and Photopipe's, from the worker process, on one page.
    assert 'dramatiq_messages_total{actor_name="resize",queue_name="resize"}' in text
    assert 'photopipe_stage_duration_seconds_count{outcome="done",stage="detect"} 1.0' in text


@pytest.fixture
def dead_webhook(worker: WorkerProcess) -> Iterator[dramatiq.Message]:
    """A webhook message dead-lettered in the real webhooks.XQ, with no consumer running
    (the session's worker is stopped meanwhile); queues purged after."""
    worker.stop()
    message = dramatiq.get_broker().get_actor("deliver_webhook").message(
        "http://127.0.0.2/refused", {"job_id": "00000000-0000-0000-0000-000000000000"}
    )
    message = message.copy(options={"retries": 8, "traceback": "DeliveryFailed: answered 503"})
    with pika.BlockingConnection(pika.URLParameters(settings.RABBITMQ_URL)) as connection:
        channel = connection.channel()
        dramatiq.get_broker().declare_queue("webhooks", ensure=True)
        channel.basic_publish("", "webhooks.XQ", message.encode(),
                              pika.BasicProperties(delivery_mode=2))
    try:
        yield message
    finally:
        purge_queues()
        worker.start()


def test_dead_letters_are_listed_and_requeued_on_rabbitmq(dead_webhook, django_user_model):
    depths = {q.name: q for q in queue_stats.queue_depths()}
    assert depths["webhooks"].dead == 1 and depths["webhooks"].ready == 0
    (letter,) = queue_stats.dead_letters("webhooks")
    assert letter.message_id == dead_webhook.message_id and letter.retries == 8
    assert letter.error == "DeliveryFailed: answered 503"
    assert queue_stats.queue_depths()[0] is not None  # peeking left it in place
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("ops-root", password="x" * 12))
    page = admin.get("/admin/jobs/job/dead-letters/", {"queue": "webhooks"}).content.decode()
    assert dead_webhook.message_id in page
    metrics = admin.get("/metrics").content.decode()
    assert 'photopipe_queue_messages{kind="dead",queue="webhooks"} 1.0' in metrics
    assert "photopipe_broker_up 1.0" in metrics
    panels = admin.get("/dashboard/panels/").content.decode()
    assert "<code>webhooks</code>" in panels and "broker unreachable" not in panels
    admin.post("/admin/jobs/job/dead-letters/",
               {"queue": "webhooks", "message_id": dead_webhook.message_id})
    depths = {q.name: q for q in queue_stats.queue_depths()}
    assert depths["webhooks"].dead == 0 and depths["webhooks"].ready == 1
    with pika.BlockingConnection(pika.URLParameters(settings.RABBITMQ_URL)) as connection:
        _method, _props, body = connection.channel().basic_get("webhooks", auto_ack=True)
    moved = dramatiq.Message.decode(body)
    assert moved.message_id == dead_webhook.message_id
    assert "retries" not in moved.options  # a fresh retry budget
