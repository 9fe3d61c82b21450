"""Faults injected while jobs are in flight: RabbitMQ and PostgreSQL restarted in the middle of
stages, and RabbitMQ refusing publishes (a disk alarm). Every accepted job must end completed,
each stage done exactly once, and uploads must answer fast instead of hanging.

The reaper runs beside the worker as it does in compose (`resume_jobs --every`), with a short
idle time: it is the designed recovery for a next-stage message that could not be published.
"""

import io
import logging
import time
from collections import Counter
from datetime import datetime

import pytest
from django.db import connection
from django.utils import timezone

import processing
from jobs import services
from jobs.models import Job, StageRun
from jobs.stages import next_stage
from tests.integration.conftest import (
    TERMINAL,
    purge_queues,
    rabbitmqctl,
    services_sh,
    staff_api,
    wait_for_terminal,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

logger = logging.getLogger(__name__)


@pytest.fixture(autouse=True)
def _purge_after():
    """Duplicates that a fault leaves (harmless to the jobs) must not reach the next test."""
    yield
    purge_queues()

# Three 9x9 median filters keep the filters stage busy for seconds: these jobs are mid-stage
# when the service goes away, while the plain ones are queued behind them or between stages.
SLOW_STEPS = [{"name": "median", "params": {"size": 9}}] * 3
JOB_MIX = [
    ("motorcycle_left.png", SLOW_STEPS), ("rocket.jpg", []), ("chelsea.png", []),
    ("motorcycle_left.png", SLOW_STEPS), ("coffee.png", []), ("astronaut.png", []),
]


def _submit_mix(image_bytes) -> list[Job]:
    return [
        services.job_submit(data=image_bytes(name), filename=name,
                            steps=processing.validate_steps(steps))
        for name, steps in JOB_MIX
    ]


def _wait_until_in_flight(jobs: list[Job], timeout: float = 60) -> dict[str, str]:
    """Until a stage attempt is running and some job has moved past its first stage, while
    most jobs are unfinished; returns each job's status/stage at that moment."""
    ids = [job.pk for job in jobs]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = dict(Job.objects.filter(pk__in=ids).values_list("pk", "status"))
        stages = dict(Job.objects.filter(pk__in=ids).values_list("pk", "stage"))
        running = StageRun.objects.filter(job__in=ids, status=StageRun.Status.RUNNING).exists()
        moved_on = any(
            stages[pk] != "resize" or rows[pk] in TERMINAL for pk in ids
        )
        unfinished = sum(status not in TERMINAL for status in rows.values())
        if running and moved_on:
            assert unfinished >= 2, f"the jobs finished before the fault could hit them: {rows}"
            return {str(pk): f"{rows[pk]}/{stages[pk]}" for pk in ids}
        time.sleep(0.1)
    raise TimeoutError("no job got in flight")


def _assert_each_completed_once(jobs: list[Job], worker, timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    for job in jobs:
        done = wait_for_terminal(job.pk, timeout=max(1.0, deadline - time.monotonic()))
        assert done.status == Job.Status.COMPLETED, (done.error, worker.output()[-3000:])
        assert done.run == 1
        finished = Counter(
            StageRun.objects.filter(job=done, status=StageRun.Status.DONE)
            .values_list("stage", flat=True)
        )
        assert finished == Counter(done.plan), f"{done.pk}: stages done {dict(finished)}"


def _assert_every_event_arrived(jobs: list[Job], durable_events, timeout: float = 30) -> None:
    """Each job's completion event reached the subscriber, at least once: the contract (the
    README says so; subscribers deduplicate on job and status). A second copy comes when an
    outage falls between RabbitMQ's confirm and recording it; the counts are logged."""
    wanted = {str(job.pk) for job in jobs}
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while missing := wanted - {event["job_id"] for event in events}:
        assert time.monotonic() < deadline, f"no event for {missing}"
        time.sleep(0.5)
        events += durable_events.drain()
    time.sleep(2)  # a duplicate would follow within the reaper's sweep
    events += durable_events.drain()
    per_job = Counter(event["job_id"] for event in events if event["job_id"] in wanted)
    assert set(per_job) == wanted, per_job
    logger.warning("events per job: %s", sorted(per_job.values()))
    assert {event["status"] for event in events if event["job_id"] in wanted} == {"completed"}


def _finished_since(jobs: list[Job], since: datetime, timeout: float = 60) -> list[StageRun]:
    """Stage attempts of ``jobs`` that finish after ``since`` (waits for the first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = list(StageRun.objects.filter(
            job__in=jobs, status=StageRun.Status.DONE, finished_at__gte=since
        ))
        if done:
            return done
        time.sleep(0.2)
    raise TimeoutError("no stage finished")


def test_rabbitmq_restarted_mid_stage_loses_no_job_and_runs_no_stage_twice(
    worker, reaper, durable_events, image_bytes
):
    began = time.monotonic()
    jobs = _submit_mix(image_bytes)
    snapshot = _wait_until_in_flight(jobs)
    down = time.monotonic()
    services_sh("stop", "rabbitmq")
    stopped_at = timezone.now()  # from here on nothing can be published or acked
    try:
        # A stage that finishes now cannot publish its next stage's message nor ack its own.
        finished_in_outage = _finished_since(jobs, stopped_at)
    finally:
        services_sh("start", "rabbitmq")
    logger.warning("rabbitmq down %.1f s with jobs at %s; finished meanwhile: %s",
                   time.monotonic() - down, snapshot,
                   [(str(run.job_id), run.stage) for run in finished_in_outage])

    _assert_each_completed_once(jobs, worker)
    logger.warning("all %d jobs completed %.1f s after the stop (reaper resumed %s)",
                   len(jobs), time.monotonic() - down, reaper.resumed())
    log = worker.output()
    for run in finished_in_outage:
        following = next_stage(Job.objects.get(pk=run.job_id).plan, run.stage)
        if following:  # carried on by the redelivered message, not by the reaper's sweep
            assert f"job {run.job_id}: {run.stage} redelivered after it finished; " \
                   f"re-sent {following}" in log
    _assert_every_event_arrived(jobs, durable_events)
    logger.warning("test took %.1f s", time.monotonic() - began)


def test_postgresql_restarted_mid_stage_loses_no_job_and_runs_no_stage_twice(
    worker, reaper, durable_events, image_bytes
):
    began = time.monotonic()
    jobs = _submit_mix(image_bytes)
    snapshot = _wait_until_in_flight(jobs)
    down = time.monotonic()
    services_sh("restart", "postgres")  # every connection of the worker dies mid-stage
    connection.close()  # this process's own connection died with the server too
    logger.warning("postgres restarted in %.1f s with jobs at %s", time.monotonic() - down,
                   snapshot)
    _assert_each_completed_once(jobs, worker)
    failed_attempts = StageRun.objects.filter(job__in=jobs, status=StageRun.Status.FAILED)
    logger.warning("all %d jobs completed %.1f s after the restart began (failed attempts "
                   "retried: %s; reaper resumed %s)", len(jobs), time.monotonic() - down,
                   [(run.stage, run.error[:60]) for run in failed_attempts], reaper.resumed())
    _assert_every_event_arrived(jobs, durable_events)
    logger.warning("test took %.1f s", time.monotonic() - began)


# --- publishing blocked: a RabbitMQ resource alarm ----------------------------------------------

@pytest.fixture
def disk_alarm():
    """Raise RabbitMQ's disk alarm (free-space limit far above the free space): it blocks every
    publishing connection. Always back to the default limit afterwards."""
    rabbitmqctl("set_disk_free_limit", "1000GB")
    try:
        yield lambda: rabbitmqctl("set_disk_free_limit", "50MB")
    finally:
        rabbitmqctl("set_disk_free_limit", "50MB")


def _upload(data: bytes, name: str):
    upload = io.BytesIO(data)
    upload.name = name
    return staff_api().post("/api/v1/jobs/", {"file": upload}, format="multipart")


def test_uploads_answer_fast_while_rabbitmq_blocks_publishing_and_complete_after(
    worker, reaper, disk_alarm, image_bytes
):
    time.sleep(1)  # let the alarm reach every connection (RabbitMQ checks disk space 10x/s)
    answers = []
    for name in ("rocket.jpg", "chelsea.png"):
        began = time.monotonic()
        response = _upload(image_bytes(name), name)
        answers.append((response, time.monotonic() - began))
    logger.warning("upload answers under the disk alarm: %s",
                   [(r.status_code, round(seconds, 2)) for r, seconds in answers])
    for response, seconds in answers:
        assert seconds < 10, f"an upload took {seconds:.1f} s under the alarm"
        assert response.status_code == 202, response.content  # accepted: the reaper re-sends
    jobs = [Job.objects.get(pk=response.json()["id"]) for response, _ in answers]
    time.sleep(2)
    assert all(  # nothing could be published, so nothing ran
        Job.objects.get(pk=job.pk).status == Job.Status.QUEUED for job in jobs
    )

    cleared = time.monotonic()
    disk_alarm()  # the alarm clears
    _assert_each_completed_once(jobs, worker, timeout=60)
    logger.warning("both jobs completed %.1f s after the alarm cleared (reaper resumed %s)",
                   time.monotonic() - cleared, reaper.resumed())
