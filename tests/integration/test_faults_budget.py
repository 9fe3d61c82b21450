"""Retry budgets running out on the real stack: a stage that keeps failing, and a stage that
keeps running past its time limit, end the job `failed` with the stage and the reason.

Each test restarts the session worker with a small budget (the same settings a deployment
would set in the environment) and restores it afterwards.
"""

import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterator

import numpy as np
import pika
import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

import processing
from jobs import services, storage
from jobs.models import Job, StageRun
from tests.integration.conftest import (
    WorkerProcess,
    purge_queues,
    services_sh,
    wait_for_terminal,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

logger = logging.getLogger(__name__)

# Retries come quickly so a test sees the budget run out in seconds, not a minute.
FAST_BACKOFF = {"PHOTOPIPE_RETRY_MIN_BACKOFF_MS": "200", "PHOTOPIPE_RETRY_MAX_BACKOFF_MS": "500"}


@pytest.fixture
def restart_worker(worker) -> Iterator[Callable[..., WorkerProcess]]:
    """Restart the session worker with extra settings; the default worker comes back after,
    and the queues are purged (the dead letters this test made included)."""
    yield lambda **env: (worker.stop(), worker.start(**env), worker)[-1]
    worker.stop()
    purge_queues()
    worker.start()


def _dead_letter_for(job: Job, queue: str, timeout: float = 15) -> dict:
    """The message of ``job`` in ``queue``'s dead-letter queue (Dramatiq's `<queue>.XQ`)."""
    deadline = time.monotonic() + timeout
    with pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"])) as conn:
        channel = conn.channel()
        while time.monotonic() < deadline:
            method, _props, body = channel.basic_get(f"{queue}.XQ", auto_ack=False)
            if method is None:
                time.sleep(0.2)
                continue
            message = json.loads(body)
            if message["args"] == [str(job.pk)]:
                return message
    raise TimeoutError(f"no dead letter for {job.pk} in {queue}.XQ")


def test_a_stage_failing_past_its_retries_fails_the_job_and_dead_letters_the_message(
    restart_worker, image_bytes
):
    began = time.monotonic()
    worker = restart_worker(PHOTOPIPE_STAGE_MAX_RETRIES="2", **FAST_BACKOFF)
    with transaction.atomic():
        job = services.job_submit(data=image_bytes("rocket.jpg"), filename="rocket.jpg")
        services_sh("s3-down")  # stays down through every try: the original cannot be read
    try:
        failed = wait_for_terminal(job.pk, timeout=120)
    finally:
        services_sh("s3-up")

    assert failed.status == Job.Status.FAILED, worker.output()[-3000:]
    assert failed.stage == "resize"
    attempts = list(StageRun.objects.filter(job=job, stage="resize").order_by("attempt"))
    assert [run.status for run in attempts] == ["failed"] * 3  # the first try and 2 retries
    assert "Error" in attempts[-1].error  # the storage error, e.g. EndpointConnectionError
    assert failed.error == f"resize gave up after 3 tries: {attempts[-1].error}"
    dead = _dead_letter_for(job, "resize")
    assert dead["actor_name"] == "resize" and dead["options"]["retries"] == 2  # the 2nd retry
    logger.warning("gave up after %.1f s: %s (attempts took %s ms)",
                   time.monotonic() - began, failed.error[:120],
                   [run.duration_ms for run in attempts])


def _noisy_png(size: int = 768) -> bytes:
    """Random pixels: non-local means denoising has the most to do and no shortcut."""
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


# Each denoise of a 768x768 image with the widest search takes 1.5-3 s here, three of them
# far more than the 1 s limit. (Dramatiq checks limits once a second and cannot interrupt a
# C call, so the interrupt lands when the denoise under way returns.)
HEAVY_STEPS = [{"name": "denoise", "params": {"strength": 30, "search": 35}}] * 3


def test_a_stage_over_its_time_limit_is_stopped_retried_then_failed(restart_worker):
    began = time.monotonic()
    worker = restart_worker(
        PHOTOPIPE_STAGE_TIME_LIMIT_MS="1000", PHOTOPIPE_STAGE_MAX_RETRIES="1", **FAST_BACKOFF
    )
    job = services.job_submit(
        data=_noisy_png(), filename="noise.png", steps=processing.validate_steps(HEAVY_STEPS)
    )
    failed = wait_for_terminal(job.pk, timeout=120)

    assert failed.status == Job.Status.FAILED, worker.output()[-3000:]
    assert failed.stage == "filters"
    assert StageRun.objects.get(job=job, stage="resize").status == "done"  # within its limit
    attempts = list(StageRun.objects.filter(job=job, stage="filters").order_by("attempt"))
    assert [(run.status, run.error) for run in attempts] == [
        ("failed", "filters took longer than its time limit")
    ] * 2  # stopped, retried once, stopped again
    assert all(run.duration_ms >= 1000 for run in attempts)
    # Stopped before the end of the work: no attempt wrote the stage's output.
    assert not default_storage.exists(storage.stage_output_key(job.pk, "filters", "jpg"))
    assert failed.error == "filters gave up after 2 tries: filters took longer than its time limit"
    logger.warning("failed after %.1f s; attempts stopped after %s ms",
                   time.monotonic() - began, [run.duration_ms for run in attempts])
