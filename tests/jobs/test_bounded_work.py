"""Work per request is bounded before it starts, heavy work stops when its job does, and
damaged images fail instead of completing with filler (issue 7, items 5 and 8)."""

import io
import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import processing
from jobs import runner, services
from jobs.models import Job, StageRun
from tests.processing.images import photo

pytestmark = pytest.mark.django_db
BENCH_4K = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "bench_4k.jpg"


def _jpeg(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **params)
    return buffer.getvalue()


def _upload(api, data: bytes, steps: list) -> object:
    upload = io.BytesIO(data)
    upload.name = "photo.jpg"
    return api.post(
        "/api/v1/jobs/", {"file": upload, "steps": json.dumps(steps)}, format="multipart"
    )


def test_a_plan_whose_intermediate_exceeds_the_pixel_limit_is_refused_at_upload(
    api, stored_originals
):
    rotations = [{"name": "rotate", "params": {"angle": 45, "expand": True}}] * 7
    response = _upload(api, BENCH_4K.read_bytes(), rotations)
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "rotate" in detail and "MP limit" in detail and detail.startswith("steps[")
    assert not Job.objects.exists() and stored_originals() == set()


def test_a_plan_over_the_cpu_budget_is_refused_at_upload(api, stored_originals):
    heavy = [{"name": "rotate", "params": {"angle": 45, "expand": True}}] * 5 + [
        {"name": "denoise", "params": {"search": 35}}
    ] * 3
    response = _upload(api, BENCH_4K.read_bytes(), heavy)
    assert response.status_code == 400, response.content
    assert "denoise" in response.json()["detail"] and "budget" in response.json()["detail"]
    assert not Job.objects.exists() and stored_originals() == set()


def _busy_children(timeout: float = 20) -> bool:
    """True once a filter child process is burning CPU (state R) below this process."""
    from tests.processing.test_isolation import descendants

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in descendants():
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "R":
                return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_job_kills_its_running_heavy_filter_step(image_bytes, user):
    # ~4 s of one core on a 1024x1024 photo (non-local means, widest search).
    job = services.job_submit(
        data=_jpeg(photo((1024, 1024))), filename="noisy.jpg", owner=user,
        steps=[processing.Step("denoise", {"strength": 6.0, "search": 35})],
    )
    runner.run_stage(str(job.pk), "resize")
    done = threading.Event()
    started = time.monotonic()
    worker = threading.Thread(
        target=lambda: (runner.run_stage(str(job.pk), "filters"), done.set()), daemon=True
    )
    worker.start()
    assert _busy_children(), "the heavy step never started in a child process"
    services.job_cancel(job_id=job.pk)
    assert done.wait(timeout=3), "the stage kept working after its job was cancelled"
    assert time.monotonic() - started < 4  # stopped, not finished
    cancelled = Job.objects.get(pk=job.pk)
    assert cancelled.status == Job.Status.CANCELLED
    attempt = StageRun.objects.get(job=job, stage="filters")
    assert attempt.status == StageRun.Status.CANCELLED
    assert not attempt.output_key


def _cut_jpeg() -> bytes:
    """A baseline JPEG cut in the middle of its scan, with the end marker put back."""
    data = _jpeg(photo((800, 600)))
    return data[: len(data) // 2] + b"\xff\xd9"


def test_a_truncated_jpeg_ends_failed_with_a_reason(api):
    response = _upload(api, _cut_jpeg(), [])
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    runner.run_stage(job_id, "resize")
    failed = Job.objects.get(pk=job_id)
    assert failed.status == Job.Status.FAILED and failed.stage == "resize"
    assert "truncated" in failed.error


def test_damaged_images_complete_when_the_setting_accepts_them(api, settings):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "ACCEPT_DAMAGED": True}
    response = _upload(api, _cut_jpeg(), [])
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    assert Job.objects.get(pk=job.pk).status == Job.Status.COMPLETED
