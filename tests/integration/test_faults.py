"""Faults injected into the real stack: transient errors are retried, bad images fail fast."""

import subprocess
import time

import pytest
from django.db import transaction

from jobs import services
from jobs.models import Job, StageRun
from tests.integration.conftest import ROOT, wait_for_terminal

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def services_sh(*args: str) -> None:
    subprocess.run(["bash", "scripts/services.sh", *args], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)


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
