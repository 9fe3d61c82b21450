"""`manage.py reprocess` selections, dry run, errors and embedded hand-off; `resume_jobs` in
embedded mode; the embedded server's sweep (jobs/embedded.py)."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs import embedded, runner
from jobs.models import Job, StageRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def beside_rabbitmq(settings: Any) -> None:
    settings.RABBITMQ_URL = "amqp://rabbitmq.invalid/"  # the broker itself stays the stub


def _finish(job: Job) -> Job:
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    return Job.objects.get(pk=job.pk)


@pytest.fixture
def fleet(submit, other_user) -> dict[str, Job]:
    """One job in each interesting state."""
    completed = _finish(submit("astronaut.png"))  # a face: labels face, person
    plain = _finish(submit("chelsea.png", owner=other_user))
    failed = submit("astronaut.png")
    Job.objects.filter(pk=failed.pk).update(
        status=Job.Status.FAILED, stage="watermark", error="boom", finished_at=timezone.now()
    )
    queued = submit("chelsea.png")
    return {"completed": completed, "plain": plain, "failed": Job.objects.get(pk=failed.pk),
            "queued": queued}


def _run(*args: str) -> tuple[str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("reprocess", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _status(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def test_selects_by_status(fleet, beside_rabbitmq):
    out, _ = _run("--status", "failed")
    assert "1 job(s) requeued, 0 refused" in out
    assert _status(fleet["failed"]) == Job.Status.QUEUED
    assert _status(fleet["completed"]) == Job.Status.COMPLETED


def test_selects_by_failed_stage(fleet, beside_rabbitmq):
    out, _ = _run("--failed-stage", "resize", "--dry-run")
    assert "0 job(s) would be requeued" in out
    out, _ = _run("--failed-stage", "watermark")
    assert "1 job(s) requeued" in out and _status(fleet["failed"]) == Job.Status.QUEUED


def test_selects_by_label_and_owner(fleet, beside_rabbitmq):
    out, _ = _run("--label", "face", "--status", "completed", "--dry-run")
    assert str(fleet["completed"].pk) in out and str(fleet["plain"].pk) not in out
    out, _ = _run("--owner", "bob", "--dry-run")
    assert str(fleet["plain"].pk) in out and str(fleet["completed"].pk) not in out


def test_selects_by_date_range(fleet, beside_rabbitmq):
    Job.objects.filter(pk=fleet["plain"].pk).update(created_at=timezone.now() - timedelta(days=3))
    out, _ = _run("--until", "2d", "--dry-run")
    assert str(fleet["plain"].pk) in out and "1 job(s) would be requeued" in out
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    out, _ = _run("--since", since, "--status", "completed", "--dry-run")
    assert str(fleet["completed"].pk) in out and str(fleet["plain"].pk) not in out


def test_dry_run_lists_and_changes_nothing(fleet, beside_rabbitmq, stub_broker,
                                           django_capture_on_commit_callbacks):
    before = {job.pk: (job.status, job.run) for job in Job.objects.all()}
    runs = StageRun.objects.count()
    stub_broker.flush_all()
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = _run("--all", "--from-stage", "detect", "--dry-run")
    assert {job.pk: (job.status, job.run) for job in Job.objects.all()} == before
    assert StageRun.objects.count() == runs
    assert all(queue.qsize() == 0 for queue in stub_broker.queues.values())
    # The dry run refuses what the real run would: a running job, a missing earlier output.
    assert f"{fleet['completed'].pk}: would be requeued: from detect" in out
    assert f"{fleet['queued'].pk}: would be refused: a queued job is still running" in out
    assert f"{fleet['failed'].pk}: would be refused: cannot start at detect" in out
    assert "2 job(s) would be requeued, 2 refused (dry run: nothing changed)" in out


def test_requeued_jobs_are_sent(fleet, beside_rabbitmq, stub_broker,
                                django_capture_on_commit_callbacks):
    stub_broker.flush_all()
    with django_capture_on_commit_callbacks(execute=True):
        _run(str(fleet["completed"].pk), "--from-stage", "detect")
    (message,) = stub_broker.queues["detect"].queue
    assert str(fleet["completed"].pk) in message.decode()


def test_bad_selections_are_errors(fleet):
    for args, message in [
        ((), "say which jobs"),
        (("nope",), "no such job: nope"),
        (("--owner", "nobody"), "no such user: nobody"),
        (("--since", "yesterday-ish"), "is not a date"),
        (("--since", "1d", "--until", "2d"), "is not before"),
        (("--stale-minutes", "-1"), "0 or more"),
    ]:
        with pytest.raises(CommandError, match=message):
            _run(*args)
    assert _status(fleet["completed"]) == Job.Status.COMPLETED


def test_refusals_exit_non_zero_and_say_why(fleet, beside_rabbitmq):
    with pytest.raises(CommandError, match="1 job"):
        call_command("reprocess", str(fleet["queued"].pk))


def test_stale_jobs_are_cancelled_and_restarted(fleet, beside_rabbitmq, stub_broker,
                                                django_capture_on_commit_callbacks):
    queued = fleet["queued"]
    out, _ = _run("--stale-minutes", "5", "--dry-run")
    assert "0 job(s)" in out  # just queued: not stale
    Job.objects.filter(pk=queued.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    stub_broker.flush_all()
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = _run("--stale-minutes", "5")
    assert "1 job(s) requeued (1 stuck, restarted)" in out
    job = Job.objects.get(pk=queued.pk)
    assert job.status == Job.Status.QUEUED and job.run == 2 and job.stage == "resize"
    assert stub_broker.queues["resize"].qsize() == 1


def test_progress_bar_on_stderr_summary_on_stdout(fleet, beside_rabbitmq):
    out, err = _run("--status", "completed")
    assert "reprocessing" in err and "2/2" in err
    assert out.strip() == "2 job(s) requeued, 0 refused"


def test_embedded_mode_says_the_running_server_takes_over(fleet, settings):
    settings.RABBITMQ_URL = ""
    out, _ = _run("--status", "completed")
    assert "left queued for the running server (make run)" in out
    assert _status(fleet["completed"]) == Job.Status.QUEUED


def test_resume_jobs_in_embedded_mode_sends_nothing(submit, settings, stub_broker,
                                                    django_capture_on_commit_callbacks):
    settings.RABBITMQ_URL = ""
    submit()
    stub_broker.flush_all()
    from io import StringIO

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_jobs", "--older-than", "0", stdout=out)
    assert "embedded mode: nothing is sent from here" in out.getvalue()
    assert "1 job(s) are queued or processing" in out.getvalue()
    assert stub_broker.queues["resize"].qsize() == 0
    with pytest.raises(CommandError, match="--every"):
        call_command("resume_jobs", "--every", "5", stdout=StringIO())


def test_embedded_sweep_sends_only_jobs_its_broker_does_not_hold(
    submit, stub_broker, django_capture_on_commit_callbacks
):
    held = embedded.HeldMessages()
    stub_broker.add_middleware(held)
    orphan = submit()  # as if queued by another process: its message is lost
    stub_broker.flush_all()
    with django_capture_on_commit_callbacks(execute=True):
        mine = submit("chelsea.png")  # sent through this broker: held
    assert held.holds() == {str(mine.pk)}
    old = timezone.now() - timedelta(minutes=1)
    Job.objects.update(updated_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        resumed = embedded.jobs_resume_orphaned(held)
    assert resumed == [str(orphan.pk)]
    queued = [m.decode() for m in stub_broker.queues["resize"].queue]
    assert sum(str(orphan.pk) in m for m in queued) == 1
    assert sum(str(mine.pk) in m for m in queued) == 1  # not sent twice


def test_embedded_sweep_leaves_a_just_committed_job_alone(submit):
    held = embedded.HeldMessages()
    submit()  # updated just now: its own message may be between commit and send
    assert embedded.jobs_resume_orphaned(held) == []


def test_held_count_follows_a_message_through_a_retry_to_its_ack():
    """A message counts as held from its enqueue, through a failed attempt and its delayed
    retry, until its final ack (a stage-named actor on a broker of its own, no database)."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    held = embedded.HeldMessages()
    broker.add_middleware(held)
    seen: list[bool] = []

    def resize(job_id: str) -> None:
        seen.append(job_id in held.holds())
        if len(seen) == 1:
            raise RuntimeError("transient")

    actor = dramatiq.actor(resize, actor_name="resize", queue_name="resize", broker=broker,
                           min_backoff=10,
                           max_backoff=20, max_retries=2)
    actor.send("job-1")
    assert held.holds() == {"job-1"}
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join("resize", fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    assert seen == [True, True]  # held during the first attempt and during the retry
    assert held.holds() == set()
