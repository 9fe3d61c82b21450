"""Timeline truth: the current run's duration, reused stages, cancelled attempts, attempts per
stage, and the same runs in the API and the admin."""

from datetime import timedelta

import pytest
from django.urls import reverse

from jobs import runner, services
from jobs.models import Job, StageRun

pytestmark = pytest.mark.django_db


def _run_all(job: Job, start: str | None = None) -> Job:
    plan = job.plan
    for stage in plan[plan.index(start or plan[0]):]:
        runner.run_stage(str(job.pk), stage)
    return Job.objects.get(pk=job.pk)


def test_duration_is_the_current_runs_only(submit):
    job = _run_all(submit())
    # The first run ended long ago; reprocessing must not count the time in between.
    Job.objects.filter(pk=job.pk).update(created_at=job.created_at - timedelta(hours=1))
    again = services.job_reprocess(job_id=job.pk, from_stage="detect")
    done = _run_all(again, "detect")
    assert done.duration_seconds is not None and done.duration_seconds < 30
    assert done.duration_seconds == (done.finished_at - done.started_at).total_seconds()


def test_a_reused_stage_names_the_run_that_did_the_work(submit, api):
    job = _run_all(submit())
    _run_all(services.job_reprocess(job_id=job.pk, from_stage="detect"), "detect")
    _run_all(services.job_reprocess(job_id=job.pk, from_stage="detect"), "detect")
    third = StageRun.objects.filter(job=job, run=3)
    resize = third.get(stage="resize")
    assert resize.reused_from_run == 1  # not 2: run 2 reused it too
    assert resize.finished_at >= resize.started_at
    timeline = api.get(f"/api/v1/jobs/{job.pk}/").json()["timeline"]
    by_stage = {entry["stage"]: entry for entry in timeline}
    assert by_stage["resize"]["reused_from_run"] == 1
    assert by_stage["detect"]["reused_from_run"] is None


def test_a_cancelled_jobs_running_attempt_reads_cancelled(submit, api):
    job = submit()
    services.stage_claim(job_id=str(job.pk), stage="resize")
    services.job_cancel(job_id=job.pk)
    (entry,) = api.get(f"/api/v1/jobs/{job.pk}/").json()["timeline"]
    assert entry["status"] == "cancelled" and entry["error"] == ""


def test_attempts_are_per_stage(submit, api):
    job = _run_all(submit())
    clean = api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert clean["attempts"] == {"resize": 1, "watermark": 1, "detect": 1}
    again = services.job_reprocess(job_id=job.pk, from_stage="watermark")
    first = services.stage_claim(job_id=str(again.pk), stage="watermark")
    services.attempt_fail(stage_run=first, reason="S3 down", permanent=False)
    _run_all(Job.objects.get(pk=job.pk), "watermark")
    retried = api.get(f"/api/v1/jobs/{job.pk}/").json()
    # resize was reused (no attempt in this run); watermark needed two.
    assert retried["attempts"] == {"watermark": 2, "detect": 1}


def test_runs_all_groups_every_run_newest_first(submit, api):
    job = _run_all(submit())
    _run_all(services.job_reprocess(job_id=job.pk, from_stage="detect"), "detect")
    body = api.get(f"/api/v1/jobs/{job.pk}/", {"runs": "all"}).json()
    assert [(run["run"], run["current"]) for run in body["runs"]] == [(2, True), (1, False)]
    assert [e["stage"] for e in body["runs"][1]["timeline"]] == ["resize", "watermark", "detect"]
    assert body["runs"][0]["timeline"] == body["timeline"]
    assert "runs" not in api.get(f"/api/v1/jobs/{job.pk}/").json()


def test_the_admin_shows_the_same_runs_as_the_api(submit, admin_client):
    job = _run_all(submit())
    _run_all(services.job_reprocess(job_id=job.pk, from_stage="detect"), "detect")
    html = admin_client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()
    assert "run 2 (current)" in html and "run 1" in html
    assert html.index("run 2 (current)") < html.index("run 1<")
    assert "from run 1" in html  # the reused stages say where their output came from
    first_attempt = StageRun.objects.get(job=job, run=1, stage="resize")
    started = first_attempt.started_at.strftime("%H:%M:%S.%f")[:-3]
    assert started in html  # milliseconds


def test_the_browsable_api_action_pages_open_without_an_error(client_for, user, submit):
    """GET on reprocess/cancel describes the action (200) with the form below it, not a 405."""
    job = _run_all(submit())
    browser = client_for(user)
    for action, button in (("reprocess", "from_stage"), ("cancel", "POST")):
        page = browser.get(f"/api/v1/jobs/{job.pk}/{action}/", HTTP_ACCEPT="text/html")
        html = page.content.decode()
        assert page.status_code == 200, action
        assert "405" not in html and "not allowed" not in html.lower()
        assert button in html and "POST here to" in html
    assert Job.objects.get(pk=job.pk).run == 1  # a GET changes nothing
