"""State changes through jobs/services.py, with stages run in-process (no broker)."""

import socket
import subprocess
from datetime import timedelta
from unittest import mock

import dramatiq
import pytest
from django.core.files.storage import default_storage

from jobs import leases, reaper, runner, services, storage
from jobs.models import IllegalTransition, Job, StageNotInPlan, StageRun
from jobs.signals import job_failed, job_finished
from jobs.stage_work import StageOutput
from tests.helpers import run_all_stages

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_events():
    events: list[tuple[str, Job]] = []

    def on_finished(sender, job, **_):
        events.append(("finished", job))

    def on_failed(sender, job, **_):
        events.append(("failed", job))

    job_finished.connect(on_finished, weak=False)
    job_failed.connect(on_failed, weak=False)
    yield events
    job_finished.disconnect(on_finished)
    job_failed.disconnect(on_failed)


@pytest.fixture(autouse=True)
def no_broadcast():
    """The receivers' RabbitMQ publish is covered end to end; here stages run in-process."""
    with mock.patch("jobs.events.publish_processed") as publish:
        yield publish


def test_stages_run_in_order_and_complete_the_job(
    submit, finished_events, django_capture_on_commit_callbacks
):
    job = submit()
    with django_capture_on_commit_callbacks(execute=True):
        done = run_all_stages(job)
    assert done.status == Job.Status.COMPLETED
    runs = list(done.stage_runs.order_by("started_at", "id"))
    assert [run.stage for run in runs] == ["resize", "watermark", "detect"]
    assert all(run.status == StageRun.Status.DONE and run.duration_ms is not None for run in runs)
    assert len(done.detections["faces"]) == 1
    assert max(done.result_width, done.result_height) <= 1024
    assert default_storage.exists(done.result_key)
    assert [kind for kind, _ in finished_events] == ["finished"]


def test_filters_stage_runs_only_when_steps_are_asked(submit):
    from processing import validate_steps

    job = submit("chelsea.png", steps=validate_steps(["grayscale"]))
    assert job.plan == ["resize", "filters", "watermark", "detect"]
    done = run_all_stages(job)
    assert done.status == Job.Status.COMPLETED
    assert "filters" in {run.stage for run in done.stage_runs.all()}


def test_a_redelivered_message_is_a_no_op(submit):
    job = submit()
    runner.run_stage(str(job.pk), "resize")
    runner.run_stage(str(job.pk), "resize")  # the same message, delivered again
    runs = StageRun.objects.filter(job=job, stage="resize")
    assert runs.count() == 1 and runs.get().status == StageRun.Status.DONE


def test_message_for_a_stage_the_job_is_not_at_is_ignored(submit):
    job = submit()
    runner.run_stage(str(job.pk), "detect")
    assert not StageRun.objects.filter(job=job).exists()
    assert Job.objects.get(pk=job.pk).stage == "resize"


@pytest.fixture
def dead_worker() -> str:
    """The worker id of a process on this host that has exited (as after a kill -9)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


def test_attempt_left_running_by_a_killed_worker_is_closed_as_abandoned(submit, dead_worker):
    job = submit()
    services.stage_claim(job_id=str(job.pk), stage="resize", worker=dead_worker)
    runner.run_stage(str(job.pk), "resize")
    first, second = StageRun.objects.filter(job=job, stage="resize").order_by("attempt")
    assert first.status == StageRun.Status.FAILED and "abandoned" in first.error
    assert second.status == StageRun.Status.DONE and second.attempt == 2


def test_attempts_are_capped_in_the_database(
    submit, settings, finished_events, dead_worker, django_capture_on_commit_callbacks
):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "STAGE_MAX_ATTEMPTS": 3}
    job = submit()
    for _ in range(3):  # three deliveries that each killed their worker mid-stage
        services.stage_claim(job_id=str(job.pk), stage="resize", worker=dead_worker)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.stage_claim(job_id=str(job.pk), stage="resize") is None
    failed = Job.objects.get(pk=job.pk)
    assert failed.status == Job.Status.FAILED
    assert failed.error.startswith("resize failed after 3 attempts: abandoned")
    assert [kind for kind, _ in finished_events] == ["failed"]


def test_a_delivery_while_the_stage_runs_elsewhere_comes_back_later(submit):
    job = submit()
    running = services.stage_claim(job_id=str(job.pk), stage="resize")
    with leases.attempt_in_flight(running), pytest.raises(dramatiq.Retry) as retry:
        runner.run_stage(str(job.pk), "resize")  # the duplicate delivery, meanwhile
    assert 0 < retry.value.delay <= 125_000
    (only,) = StageRun.objects.filter(job=job, stage="resize")
    assert only.status == StageRun.Status.RUNNING and only.attempt == 1


def test_an_attempt_orphaned_by_an_error_in_a_live_process_is_not_waited_for(submit):
    job = submit()
    services.stage_claim(job_id=str(job.pk), stage="resize")  # then its bookkeeping failed
    runner.run_stage(str(job.pk), "resize")
    first, second = StageRun.objects.filter(job=job, stage="resize").order_by("attempt")
    assert first.status == StageRun.Status.FAILED and "abandoned" in first.error
    assert second.status == StageRun.Status.DONE


def test_waiting_for_a_busy_attempt_does_not_use_up_the_retries(settings):
    from jobs.actors import _retry_stage

    budget = settings.PHOTOPIPE["STAGE_MAX_RETRIES"]
    assert _retry_stage(budget + 10, dramatiq.Retry("busy", delay=1000))
    assert _retry_stage(budget - 1, ConnectionError())
    assert not _retry_stage(budget, ConnectionError())


def test_an_old_run_finishing_late_does_not_move_the_reprocessed_job(submit):
    job = submit()
    old_attempt = services.stage_claim(job_id=str(job.pk), stage="resize")
    services.job_cancel(job_id=job.pk)
    services.job_reprocess(job_id=job.pk)  # run 2 waits for its own resize
    services.stage_complete(stage_run=old_attempt, output=StageOutput("x.jpg"))
    again = Job.objects.get(pk=job.pk)
    assert again.run == 2 and again.stage == "resize" and again.status == Job.Status.QUEUED
    assert not services.stage_give_up(job_id=str(job.pk), stage="resize", reason="late give-up")
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_cancel_closes_the_running_attempt(submit):
    job = submit()
    services.stage_claim(job_id=str(job.pk), stage="resize")
    services.job_cancel(job_id=job.pk)
    run = StageRun.objects.get(job=job)
    assert run.status == StageRun.Status.CANCELLED and run.error == ""
    assert run.duration_ms is not None


def test_a_deleted_original_fails_the_job_at_once(submit):
    job = submit()
    default_storage.delete(job.original_key)
    runner.run_stage(str(job.pk), "resize")
    failed = Job.objects.get(pk=job.pk)
    assert failed.status == Job.Status.FAILED
    assert "original image is missing" in failed.error


def test_corrupt_original_fails_the_job_at_once_with_a_reason(
    submit, finished_events, django_capture_on_commit_callbacks
):
    job = submit()
    storage.write_bytes(job.original_key, b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with django_capture_on_commit_callbacks(execute=True):
        runner.run_stage(str(job.pk), "resize")
    assert [kind for kind, _ in finished_events] == ["failed"]
    failed = Job.objects.get(pk=job.pk)
    assert failed.status == Job.Status.FAILED
    assert failed.stage == "resize"
    assert "corrupt image" in failed.error or "unsupported format" in failed.error
    assert StageRun.objects.get(job=job).status == StageRun.Status.FAILED


def test_transient_error_is_reraised_for_retry_then_exhaustion_fails_the_job(submit):
    job = submit()
    outage = mock.patch("jobs.storage.read_bytes", side_effect=ConnectionError("S3 unreachable"))
    with outage, pytest.raises(ConnectionError):
        runner.run_stage(str(job.pk), "resize")
    still = Job.objects.get(pk=job.pk)
    assert still.status == Job.Status.PROCESSING  # waiting for Dramatiq's retry
    assert "S3 unreachable" in StageRun.objects.get(job=job).error
    assert services.stage_give_up(job_id=str(job.pk), stage="resize", reason="resize gave up")
    failed = Job.objects.get(pk=job.pk)
    assert failed.status == Job.Status.FAILED
    assert failed.error == "resize gave up: ConnectionError: S3 unreachable"


def test_cancelled_job_is_not_processed(submit):
    job = submit()
    services.job_cancel(job_id=job.pk)
    runner.run_stage(str(job.pk), "resize")
    assert not StageRun.objects.filter(job=job).exists()


def test_illegal_moves_are_refused(submit):
    job = submit()
    with pytest.raises(IllegalTransition):
        services.job_reprocess(job_id=job.pk)  # still queued
    services.job_cancel(job_id=job.pk)
    with pytest.raises(IllegalTransition):
        services.job_cancel(job_id=job.pk)


def test_reprocess_from_a_later_stage_reuses_earlier_outputs(submit):
    job = run_all_stages(submit())
    again = services.job_reprocess(job_id=job.pk, from_stage="watermark")
    assert again.status == Job.Status.QUEUED and again.stage == "watermark" and again.run == 2
    assert again.result_key == "" and again.detections is None  # stale until re-run
    done = run_all_stages_from(again, "watermark")
    assert done.status == Job.Status.COMPLETED
    new_run = StageRun.objects.filter(job=job, run=2)
    assert sorted(new_run.values_list("stage", flat=True)) == ["detect", "resize", "watermark"]
    reused = new_run.get(stage="resize")
    assert reused.reused_from_run == 1 and reused.finished_at == reused.started_at


def run_all_stages_from(job: Job, stage: str) -> Job:
    for name in job.plan[job.plan.index(stage):]:
        runner.run_stage(str(job.pk), name)
    return Job.objects.get(pk=job.pk)


def test_reprocess_rejects_a_stage_outside_the_plan(submit):
    job = run_all_stages(submit())
    with pytest.raises(StageNotInPlan):
        services.job_reprocess(job_id=job.pk, from_stage="filters")


def test_stuck_jobs_are_resumed(submit, django_capture_on_commit_callbacks):
    job = submit()
    Job.objects.filter(pk=job.pk).update(
        updated_at=job.updated_at - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=False) as sent:
        resumed = reaper.jobs_resume_stuck(older_than=timedelta(minutes=10))
    assert resumed == [str(job.pk)] and len(sent) == 1
    assert reaper.jobs_resume_stuck(older_than=timedelta(minutes=10)) == []


def test_a_send_the_broker_refuses_after_the_commit_keeps_the_job(
    submit, django_capture_on_commit_callbacks, caplog
):
    """The upload's commit stands when the broker refuses (the reaper re-sends later), and the
    refusal is logged with the callback's name rather than failing the request."""
    with (
        mock.patch("jobs.queueing.send_now", side_effect=ConnectionError("broker blocked")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = submit()
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    assert "send_on_commit('resize')" in caplog.text and "broker blocked" in caplog.text
