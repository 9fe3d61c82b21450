"""The live dashboard (page, panels, charts' data; staff only) and /metrics."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from jobs import runner, services
from jobs.models import Job

pytestmark = pytest.mark.django_db


def _finish(job: Job) -> Job:
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    return Job.objects.get(pk=job.pk)


@pytest.fixture
def fleet(submit) -> dict[str, Job]:
    completed = _finish(submit())
    failed = submit("chelsea.png")
    attempt = services.stage_claim(job_id=str(failed.pk), stage="resize")
    services.attempt_fail(stage_run=attempt, reason="corrupt image (truncated JPEG)",
                          permanent=True)
    cancelled = submit()
    services.job_cancel(job_id=cancelled.pk)
    queued = submit("chelsea.png")
    return {"completed": completed, "failed": failed, "cancelled": cancelled, "queued": queued}


@pytest.mark.parametrize("name", ["dashboard", "dashboard-panels", "dashboard-charts"])
def test_the_dashboard_is_for_staff_only(name, client, django_user_model):
    url = reverse(name)
    assert client.get(url).status_code == 302  # to the admin login
    client.force_login(django_user_model.objects.create_user("plain"))
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_page_renders_every_panel_with_vendored_scripts(admin_client, fleet):
    html = admin_client.get(reverse("dashboard")).content.decode()
    for heading in ("Jobs by status", "Queues", "Stage durations", "Failures, last 24 h",
                    "Workers seen", "Latest jobs", "Jobs finished per minute"):
        assert heading in html
    assert "/static/vendor/htmx-2.0.8/htmx.min.js" in html
    assert "/static/vendor/uplot-1.6.32/uPlot.iife.min.js" in html
    assert "http://" not in html and "https://" not in html  # no CDN
    assert 'hx-trigger="every 3s"' in html


def test_panels_show_states_failures_workers_queues_and_latest_jobs(admin_client, fleet):
    html = admin_client.get(reverse("dashboard-panels")).content.decode()
    for status in ("queued", "completed", "failed", "cancelled"):
        assert re.search(rf'badge {status}">{status}</span></td><td class="num">1<', html)
    assert "corrupt image (truncated JPEG)" in html  # failures by stage and reason
    assert "<code>resize</code>" in html and "<code>webhooks</code>" in html  # queues
    assert "embedded mode" in html
    for job in fleet.values():
        assert str(job.pk)[:8] in html
    assert "/files/" in html  # thumbnails by signed link
    worker = fleet["completed"].stage_runs.first().worker
    assert worker[:32] in html or worker[:29] in html


def test_charts_data_counts_this_minute_and_stage_speeds(admin_client, fleet):
    data = admin_client.get(reverse("dashboard-charts")).json()
    series = data["throughput"]
    assert len(series["t"]) == len(series["completed"]) == 60
    assert series["completed"][-1] == 1 and series["failed"][-1] == 1
    assert series["t"][-1] == int(timezone.now().replace(second=0, microsecond=0).timestamp())
    speeds = {s["stage"]: s for s in data["stages"]}
    assert speeds["resize"]["count"] == 1 and speeds["resize"]["p50_ms"] is not None
    assert speeds["filters"]["count"] == 0 and speeds["filters"]["p95_ms"] is None


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_after_a_job(client, submit, stub_broker):
    created = _sample("photopipe_jobs_created_total")
    completed = _sample("photopipe_jobs_finished_total", status="completed")
    resized = _sample("photopipe_stage_duration_seconds_count", stage="resize", outcome="done")
    job = submit()
    # job_finished is sent on commit; the test's transaction never commits, so send it as
    # the commit would.
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        _finish(job)
    body = client.get("/metrics").content.decode()
    assert _sample("photopipe_jobs_created_total") == created + 1
    assert _sample("photopipe_jobs_finished_total", status="completed") == completed + 1
    assert _sample("photopipe_stage_duration_seconds_count", stage="resize",
                   outcome="done") == resized + 1
    assert 'photopipe_jobs{status="completed"} 1.0' in body
    assert 'photopipe_queue_messages{kind="ready",queue="resize"}' in body
    assert "photopipe_broker_up 1.0" in body
    assert "django_http_requests_total_by_view_transport_method_total" in body
    assert "photopipe_stage_duration_seconds_bucket" in body


def test_metrics_count_failures_retries_and_cancels(submit):
    failures = _sample("photopipe_stage_failures_total", stage="resize")
    retries = _sample("photopipe_stage_retries_total", stage="resize")
    cancels = _sample("photopipe_jobs_finished_total", status="cancelled")
    job = submit()
    first = services.stage_claim(job_id=str(job.pk), stage="resize")
    services.attempt_fail(stage_run=first, reason="S3 down", permanent=False)
    services.stage_claim(job_id=str(job.pk), stage="resize")  # the retry
    services.job_cancel(job_id=job.pk)
    assert _sample("photopipe_stage_failures_total", stage="resize") == failures + 1
    assert _sample("photopipe_stage_retries_total", stage="resize") == retries + 1
    assert _sample("photopipe_jobs_finished_total", status="cancelled") == cancels + 1
