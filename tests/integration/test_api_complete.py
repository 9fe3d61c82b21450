"""The seeds' routes and the detection queries end to end: API -> RabbitMQ -> worker -> S3 and
PostgreSQL (the label filter's JSON containment and the similar jobs' SQL bit count run here,
on PostgreSQL, where tests/jobs runs them on SQLite)."""

import time

import pytest
import requests
from django.db import connection
from rest_framework.test import APIClient

from jobs.models import Job
from tests.integration.conftest import staff_api, upload_file, wait_for_terminal

pytestmark = [
    pytest.mark.integration, pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("delete_jobs_after"),
]




def _poll(client: APIClient, url: str, key: str, done: set[str], timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body[key] in done:
            return body
        time.sleep(0.3)
    raise TimeoutError(f"{url} still {body}")


def test_seed_clients_work_unchanged_without_a_token(worker, settings, image_bytes):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    seed = APIClient()  # no token, as the seeds' clients

    job_id = seed.post("/upload", {"file": upload_file(image_bytes("astronaut.png"), "a.png")},
                       format="multipart").json()["job_id"]
    status = _poll(seed, f"/status/{job_id}", "status", {"COMPLETED", "FAILED"})
    assert status["status"] == "COMPLETED", (status, worker.output()[-2000:])
    assert status["step"] == "detect" and status["label"] == "face"
    result = requests.get(status["file"], timeout=10)
    assert result.status_code == 200 and result.content[:3] == b"\xff\xd8\xff"

    rocket = upload_file(image_bytes("rocket.jpg"), "r.jpg")
    accepted = seed.post("/api/v1/analyze", {"file": rocket}, format="multipart")
    assert accepted.status_code == 202 and accepted.json()["status"] == "processing"
    task = _poll(seed, f"/api/v1/tasks/{accepted.json()['task_id']}", "status",
                 {"COMPLETED", "FAILED"})
    assert task["status"] == "COMPLETED" and task["error"] is None
    assert requests.get(task["result_url"], timeout=10).status_code == 200

    processed = seed.post("/api/process/", {
        "image": upload_file(image_bytes("coffee.png"), "c.png"), "filters": "grayscale",
    }, format="multipart")
    assert processed.status_code == 202
    job = wait_for_terminal(processed.json()["id"])
    assert job.status == Job.Status.COMPLETED
    assert [run.stage for run in job.stage_runs.all()] == [
        "resize", "filters", "watermark", "detect"]
    assert Job.objects.filter(owner__isnull=False).count() == 0


def test_detection_filters_and_near_duplicates_on_postgresql(worker, image_bytes):
    api = staff_api()
    ids = [
        api.post("/api/v1/jobs/", {"file": upload_file(image_bytes(name), name)},
                 format="multipart").json()["id"]
        for name in ("astronaut.png", "astronaut.png", "page.png")
    ]
    for job_id in ids:
        assert wait_for_terminal(job_id).status == Job.Status.COMPLETED

    def listed(**params: object) -> set[str]:
        response = api.get("/api/v1/jobs/", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert listed(label="face") == set(ids[:2])
    assert listed(label="document") == {ids[2]}
    assert listed(faces_min=1, orientation="square") == set(ids[:2])
    assert listed(document="true", color="white") == {ids[2]}
    assert api.get("/api/v1/jobs/", {"labels": "face"}).status_code == 400

    near = api.get(f"/api/v1/jobs/{ids[0]}/similar/", {"distance": 8}).json()["results"]
    assert [(row["id"], row["distance"]) for row in near] == [(ids[1], 0)]

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_job_labels_gin'")
        assert "USING gin (labels)" in cursor.fetchone()[0]
