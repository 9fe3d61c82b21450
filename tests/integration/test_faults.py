"""Faults injected into the real stack: transient errors are retried, bad images fail fast."""

import time

import pytest
from django.db import transaction

from jobs import services
from jobs.models import Job, StageRun
from tests.integration.conftest import services_sh, wait_for_terminal

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def s3_outage():
    """Take the S3 endpoint offline (connections refused, objects kept); always bring it back."""
    services_sh("s3-down")
    try:
        yield lambda: services_sh("s3-up")
    finally:
        services_sh("s3-up")


def _wait_for_failed_attempt(job: Job, stage: str, timeout: float = 60) -> StageRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        failed = StageRun.objects.filter(job=job, stage=stage, status="failed").first()
        if failed:
            return failed
        time.sleep(0.2)
    raise TimeoutError(f"no failed {stage} attempt for {job.pk} in {timeout}s")


def test_storage_outage_is_retried_with_backoff_until_the_job_completes(worker, image_bytes):
    with transaction.atomic():
        job = services.job_submit(data=image_bytes("coffee.png"), filename="coffee.png")
        services_sh("s3-down")  # the worker will find storage gone when the message arrives
    try:
        failed_attempt = _wait_for_failed_attempt(job, "resize")
        assert Job.objects.get(pk=job.pk).status == Job.Status.PROCESSING  # not failed: retried
    finally:
        services_sh("s3-up")
    assert "Error" in failed_attempt.error  # the storage error is on the timeline

    done = wait_for_terminal(job.pk, timeout=120)
    assert done.status == Job.Status.COMPLETED, done.error
    resize_runs = StageRun.objects.filter(job=job, stage="resize").order_by("attempt")
    assert resize_runs.last().status == StageRun.Status.DONE
    assert resize_runs.filter(status=StageRun.Status.FAILED).count() >= 1
    # Backoff: the retry came no sooner than PHOTOPIPE_RETRY_MIN_BACKOFF_MS (1 s) later.
    retry = resize_runs.filter(attempt=failed_attempt.attempt + 1).first()
    assert retry is not None
    assert (retry.started_at - failed_attempt.finished_at).total_seconds() >= 0.9


# Three 9x9 median filters on a 1024-px image keep the filters stage busy for seconds: long
# enough to kill the worker in the middle of it.
SLOW_STEPS = [{"name": "median", "params": {"size": 9}}] * 3


TWO_ATTEMPTS = {"PHOTOPIPE_STAGE_MAX_ATTEMPTS": "2", "PHOTOPIPE_STAGE_MAX_RETRIES": "1"}


@pytest.fixture
def worker_with_two_attempts(worker):
    """The session worker, restarted with at most two attempts per stage; restored after.

    The retry budget shrinks with it: the photopipe.E001 check wants attempts > retries."""
    worker.stop()
    worker.start(**TWO_ATTEMPTS)
    yield worker
    worker.stop()
    worker.start()


def _wait_for_running_attempt(job: Job, stage: str, attempt: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if StageRun.objects.filter(job=job, stage=stage, attempt=attempt, status="running"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{stage} attempt {attempt} of {job.pk} never started")


def _submit_slow_job(image_bytes) -> Job:
    from processing import validate_steps

    return services.job_submit(
        data=image_bytes("motorcycle_left.png"), steps=validate_steps(SLOW_STEPS)
    )


def test_a_worker_killed_mid_stage_loses_nothing(worker_with_two_attempts, image_bytes):
    job = _submit_slow_job(image_bytes)
    _wait_for_running_attempt(job, "filters", attempt=1)
    worker_with_two_attempts.kill()  # kill -9 in the middle of the filters stage
    worker_with_two_attempts.start(**TWO_ATTEMPTS)

    done = wait_for_terminal(job.pk, timeout=120)
    assert done.status == Job.Status.COMPLETED, done.error
    first, second = StageRun.objects.filter(job=job, stage="filters").order_by("attempt")
    assert first.status == "failed" and "abandoned" in first.error
    assert second.status == "done"


def test_a_message_that_kills_its_worker_every_time_ends_failed(
    worker_with_two_attempts, image_bytes
):
    job = _submit_slow_job(image_bytes)
    for attempt in (1, 2):  # the message takes its worker down on every delivery
        _wait_for_running_attempt(job, "filters", attempt=attempt)
        worker_with_two_attempts.kill()
        worker_with_two_attempts.start(**TWO_ATTEMPTS)

    failed = wait_for_terminal(job.pk, timeout=60)
    assert failed.status == Job.Status.FAILED
    assert failed.stage == "filters"
    assert failed.error.startswith("filters failed after 2 attempts: abandoned")
    assert StageRun.objects.filter(job=job, stage="filters").count() == 2
