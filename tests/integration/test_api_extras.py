"""Batches, idempotent uploads and dedupe on the real stack: API -> RabbitMQ -> worker -> S3 and
PostgreSQL (the batch's one event on processed_images and its one signed webhook, sent by the
worker; two concurrent uploads with one Idempotency-Key against PostgreSQL's unique index)."""

import threading
import time

import pytest
import requests
from django.db import connection
from standardwebhooks.webhooks import Webhook

from jobs import retention
from jobs.models import Batch, Job
from jobs.webhook_models import WebhookSecret
from tests.integration.conftest import (
    WORKER_WEBHOOK_ALLOW,
    staff_api,
    upload_file,
    wait_for_terminal,
)
from tests.webhook_receiver import Receiver

pytestmark = [
    pytest.mark.integration, pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("delete_jobs_after"),
]




def test_a_batch_with_a_bad_file_finishes_with_one_event_and_one_webhook(
    worker, image_bytes, settings, durable_events
):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "WEBHOOK_ALLOW": [WORKER_WEBHOOK_ALLOW]}
    api = staff_api()
    with Receiver() as receiver:
        answer = api.post("/api/v1/batches/", {
            "file": [
                upload_file(image_bytes("astronaut.png"), "a.png"),
                upload_file(b"text", "note.txt"),
                upload_file(image_bytes("rocket.jpg"), "r.jpg"),
            ],
            "steps": "grayscale", "webhook_url": receiver.url(),
        }, format="multipart")
        assert answer.status_code == 202, answer.content
        batch_id = answer.json()["id"]
        assert answer.json()["counts"]["refused"] == 1
        deadline = time.monotonic() + 90
        while api.get(f"/api/v1/batches/{batch_id}/").json()["status"] != "finished":
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.3)
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # room for a second (wrong) webhook or event to arrive
        hooks = list(receiver.received)
    body = api.get(f"/api/v1/batches/{batch_id}/").json()
    assert body["counts"]["completed"] == 2, (body, worker.output()[-3000:])
    events = [event for event in durable_events.drain() if event["event"] == "batch.finished"]
    assert [event["batch_id"] for event in events] == [batch_id]
    assert events[0]["counts"]["completed"] == 2 and len(events[0]["jobs"]) == 2
    assert len(hooks) == 1
    secret = WebhookSecret.for_user(Batch.objects.get().owner).secret
    assert Webhook(secret).verify(hooks[0].body, hooks[0].headers) == events[0]


def test_concurrent_uploads_with_one_key_make_one_job_on_postgresql(worker, image_bytes):
    data = image_bytes("coffee.png")
    answers: list[tuple[int, str]] = []

    def upload() -> None:
        try:
            response = staff_api().post(
                "/api/v1/jobs/", {"file": upload_file(data, "c.png")}, format="multipart",
                HTTP_IDEMPOTENCY_KEY="same-key",
            )
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    staff_api()  # the user exists before the threads race
    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [code for code, _ in answers] == [202] * 4
    assert len({job_id for _, job_id in answers}) == 1
    assert Job.objects.count() == 1
    assert wait_for_terminal(answers[0][1]).status == Job.Status.COMPLETED


def test_dedupe_reuses_a_result_on_s3_that_outlives_its_source(worker, image_bytes):
    api = staff_api()
    data = image_bytes("astronaut.png")
    first = api.post("/api/v1/jobs/", {"file": upload_file(data, "a.png")}, format="multipart")
    source = wait_for_terminal(first.json()["id"])
    assert source.status == Job.Status.COMPLETED
    again = api.post(
        "/api/v1/jobs/", {"file": upload_file(data, "a.png")}, format="multipart"
    ).json()
    assert again["status"] == "completed" and again["reused_from"] == str(source.pk)
    assert not Job.objects.get(pk=again["id"]).stage_runs.exists()
    retention.job_delete(job_id=source.pk)
    link = api.get(f"/api/v1/jobs/{again['id']}/").json()["links"]["result"]
    result = requests.get(link, timeout=10)
    assert result.status_code == 200 and result.content[:3] == b"\xff\xd8\xff"
