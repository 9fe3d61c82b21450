"""Upload to result on the real stack: API -> RabbitMQ -> rundramatiq worker -> S3 + Postgres."""

import io
import json
import subprocess
import sys
import time

import dramatiq
import pytest
from django.core.files.storage import default_storage
from django.db import transaction

from jobs import services, storage
from jobs.models import Job, StageRun
from tests.integration.checks import assert_watermarked_resize_of
from tests.integration.conftest import ROOT, staff_api, wait_for_terminal

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _upload(data: bytes, name: str) -> dict:
    upload = io.BytesIO(data)
    upload.name = name
    response = staff_api().post("/api/v1/jobs/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()


def test_upload_completes_through_three_stages_and_broadcasts(
    worker, processed_events, image_bytes
):
    original = image_bytes("astronaut.png")
    accepted = _upload(original, "astronaut.png")
    assert accepted["status"] == "queued"

    job = wait_for_terminal(accepted["id"])
    assert job.status == Job.Status.COMPLETED, (job.error, worker.output()[-2000:])
    runs = list(StageRun.objects.filter(job=job).order_by("started_at", "id"))
    assert [(run.stage, run.status) for run in runs] == [
        ("resize", "done"), ("watermark", "done"), ("detect", "done"),
    ]
    assert runs[0].finished_at <= runs[1].started_at and runs[1].finished_at <= runs[2].started_at

    detail = staff_api().get(f"/api/v1/jobs/{job.pk}/").json()
    assert [entry["stage"] for entry in detail["timeline"]] == ["resize", "watermark", "detect"]
    assert all(entry["duration_ms"] is not None for entry in detail["timeline"])
    assert len(detail["detections"]["faces"]) == 1
    assert "face" in detail["detections"]["labels"]

    download = staff_api().get(f"/api/v1/jobs/{job.pk}/result/")
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    assert_watermarked_resize_of(b"".join(download.streaming_content), original)

    event = processed_events.wait_for(job.pk)
    assert event["status"] == "completed" and event["result"] == f"/api/v1/jobs/{job.pk}/result/"
    assert "face" in event["labels"]
    _wait_until(lambda: Job.objects.get(pk=job.pk).notified_at is not None, "notified_at")


def test_original_corrupted_after_upload_fails_the_job_with_a_reason(
    worker, processed_events, image_bytes
):
    with transaction.atomic():  # the first stage is sent when this block commits
        job = services.job_submit(data=image_bytes("chelsea.png"), filename="cat.png")
        storage.write_bytes(job.original_key, b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 64)

    failed = wait_for_terminal(job.pk)
    assert failed.status == Job.Status.FAILED
    assert failed.stage == "resize"
    assert "corrupt image" in failed.error or "unsupported format" in failed.error
    body = staff_api().get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["failed_stage"] == "resize" and body["error"] == failed.error
    event = processed_events.wait_for(job.pk)
    assert event["status"] == "failed" and event["error"] == failed.error


def test_a_message_delivered_twice_yields_one_done_run_and_one_object(worker, image_bytes):
    accepted = _upload(image_bytes("coffee.png"), "coffee.png")
    job = wait_for_terminal(accepted["id"])
    assert job.status == Job.Status.COMPLETED

    resize_key = StageRun.objects.get(job=job, stage="resize").output_key
    written_at = default_storage.get_modified_time(resize_key)

    dramatiq.get_broker().get_actor("resize").send(str(job.pk))  # the same message again
    _wait_for_log(worker, f"job {job.pk}: nothing to do for resize")

    resize_runs = StageRun.objects.filter(job=job, stage="resize")
    assert resize_runs.count() == 1 and resize_runs.get().status == StageRun.Status.DONE
    assert default_storage.get_modified_time(resize_key) == written_at  # not rewritten
    assert sorted(default_storage.listdir(f"jobs/{job.pk}")[1]) == ["resize.jpg", "result.jpg"]
    assert Job.objects.get(pk=job.pk).status == Job.Status.COMPLETED


def test_reprocess_runs_the_job_again(worker, image_bytes):
    accepted = _upload(image_bytes("rocket.jpg"), "rocket.jpg")
    job = wait_for_terminal(accepted["id"])
    response = staff_api().post(
        f"/api/v1/jobs/{job.pk}/reprocess/", {"from_stage": "watermark"}, format="json"
    )
    assert response.status_code == 202
    again = wait_for_terminal(job.pk)
    assert again.status == Job.Status.COMPLETED and again.run == 2
    assert StageRun.objects.filter(job=job, run=2, status="done").count() == 3


def _wait_until(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.1)


def _wait_for_log(worker, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in worker.output():
            return
        time.sleep(0.2)
    raise TimeoutError(f"worker never logged {text!r}:\n{worker.output()[-2000:]}")


def test_listen_processed_prints_the_completion_event(worker, image_bytes):
    listener = subprocess.Popen(
        [sys.executable, "manage.py", "listen_processed", "--count", "1"], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert "listening on processed_images" in listener.stderr.readline()
        accepted = _upload(image_bytes("rocket.jpg"), "rocket.jpg")
        out, _ = listener.communicate(timeout=90)
    finally:
        listener.kill()
    event = json.loads(out.strip().splitlines()[-1])
    assert event["job_id"] == accepted["id"] and event["status"] == "completed"
