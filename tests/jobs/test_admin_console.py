"""The admin as the ops console: buttons on a job's page, filters, readable detections, the
changelist's query count, dead letters, the webhook delivery log."""

from typing import Any

import dramatiq
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jobs import runner, services, webhooks
from jobs.models import Job, StageRun
from jobs.webhook_models import WebhookDelivery
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:jobs_job_changelist")


def _finish(job: Job) -> Job:
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    return Job.objects.get(pk=job.pk)


def _page(client: Client, job: Job) -> str:
    return client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()


def _operate(client: Client, job: Job, operation: str) -> Any:
    return client.post(reverse("admin:jobs_job_operate", args=[job.pk, operation]), follow=True)


@pytest.fixture
def failed(submit) -> Job:
    job = submit()
    run = services.stage_claim(job_id=str(job.pk), stage="resize")
    services.attempt_fail(stage_run=run, reason="corrupt image (truncated JPEG)", permanent=True)
    return Job.objects.get(pk=job.pk)


def test_buttons_match_the_jobs_state(admin_client, submit):
    queued = submit()
    html = _page(admin_client, queued)
    assert "Cancel</button>" in html and "Reprocess</button>" not in html
    done = _finish(submit("chelsea.png"))
    html = _page(admin_client, done)
    assert "Reprocess</button>" in html and "Cancel</button>" not in html
    assert "Retry from the failed stage" not in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_cancel_reprocess_and_retry_buttons_call_the_services(admin_client, submit, failed):
    job = submit()
    response = _operate(admin_client, job, "cancel")
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED
    assert "cancelled." in response.content.decode()
    _operate(admin_client, job, "reprocess")
    again = Job.objects.get(pk=job.pk)
    assert again.status == Job.Status.QUEUED and again.run == 2
    assert "Retry from the failed stage" in _page(admin_client, failed)
    _operate(admin_client, failed, "retry")  # failed at its first stage: runs from there
    retried = Job.objects.get(pk=failed.pk)
    assert retried.status == Job.Status.QUEUED and retried.stage == "resize"


def test_a_refused_button_says_why_and_changes_nothing(admin_client, submit):
    job = submit()
    response = _operate(admin_client, job, "reprocess")  # still queued
    assert "still running; cancel it first" in response.content.decode()
    assert Job.objects.get(pk=job.pk).run == 1


def test_buttons_need_post_csrf_and_the_operate_permission(client, django_user_model, submit):
    job = submit()
    url = reverse("admin:jobs_job_operate", args=[job.pk, "cancel"])
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    assert "Cancel</button>" not in _page(client, job)
    assert client.post(url).status_code == 403
    operator = django_user_model.objects.create_superuser("root", password="x" * 12)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    assert strict.get(url).status_code == 405
    assert strict.post(url).status_code == 403  # no CSRF token
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_filters_by_failed_stage_label_faces_and_owner(admin_client, submit, failed,
                                                       other_user):
    face = _finish(submit("astronaut.png"))
    cat = _finish(submit("chelsea.png", owner=other_user))

    def listed(**query: str) -> set[str]:
        html = admin_client.get(CHANGELIST, query).content.decode()
        return {str(job.pk) for job in (face, cat, failed) if str(job.pk) in html}

    assert listed(failed_stage="resize") == {str(failed.pk)}
    assert listed(failed_stage="detect") == set()
    assert listed(label="face") == {str(face.pk)}
    assert listed(faces="1") == {str(face.pk)}
    assert listed(faces="0") == {str(cat.pk)}
    assert listed(owner__id__exact=str(other_user.pk)) == {str(cat.pk)}


def test_detections_are_drawn_and_listed_not_dumped(admin_client, submit):
    job = _finish(submit("astronaut.png"))
    html = _page(admin_client, job)
    x, y, w, h = job.detections["faces"][0]["box"]
    assert f'<rect x="{x}" y="{y}" width="{w}" height="{h}"' in html  # the face, boxed
    assert f'viewBox="0 0 {job.result_width} {job.result_height}"' in html
    assert ">face</span>" in html and ">person</span>" in html  # label chips
    assert job.detections["dominant_colors"][0]["hex"] in html
    assert '"dominant_colors"' not in html  # no raw JSON


def test_changelist_is_short_and_costs_the_same_queries_for_more_jobs(admin_client, submit):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    for _ in range(3):
        submit()
    few = queries()
    for _ in range(27):
        submit()
    assert queries() == few
    html = admin_client.get(CHANGELIST).content.decode()
    job = Job.objects.first()
    assert f'<code title="{job.pk}">{str(job.pk)[:8]}</code>' in html  # short ids


def test_notified_at_is_honest_in_embedded_mode(admin_client, submit):
    job = _finish(submit())
    assert "not broadcast: embedded mode has no RabbitMQ" in _page(admin_client, job)
    assert "reached RabbitMQ" not in _page(admin_client, job)


def test_dead_letters_are_listed_and_requeued(admin_client, stub_broker):
    message = dramatiq.get_broker().get_actor("deliver_webhook").message(
        "https://hooks.example.com/", {"job_id": "abc"}
    )
    stub_broker.enqueue(message.copy(options={"retries": 8}))
    consumer = stub_broker.consume("webhooks")
    proxy = next(consumer)
    proxy.fail()
    consumer.nack(proxy)  # what a worker does when retries run out: dead-lettered
    url = reverse("admin:jobs_job_dead_letters")
    page = admin_client.get(url).content.decode()
    assert "<code>webhooks</code>" in page
    listed = admin_client.get(url, {"queue": "webhooks"}).content.decode()
    assert message.message_id in listed and "Requeue all" in listed
    admin_client.post(url, {"queue": "webhooks", "message_id": message.message_id})
    assert stub_broker.dead_letters == []
    (body,) = stub_broker.queues["webhooks"].queue
    requeued = dramatiq.Message.decode(body)
    assert requeued.message_id == message.message_id
    assert "retries" not in requeued.options  # a fresh retry budget


def test_webhook_deliveries_are_logged_and_can_be_redelivered(
    admin_client, submit, settings, stub_broker
):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "WEBHOOK_ALLOW": ["127.0.0.1/32"]}
    job = _finish(submit())
    payload = {"job_id": str(job.pk), "event": "job.completed", "status": "completed"}
    with Receiver(status=503) as failing, pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver_job_event(failing.url("/hook"), payload)
    with Receiver() as ok:
        webhooks.deliver_job_event(ok.url("/hook"), payload)
    log = list(WebhookDelivery.objects.order_by("created_at", "id"))
    assert [(d.outcome, d.status_code) for d in log] == [("failed", 503), ("delivered", 204)]
    assert log[0].error == "the receiver answered 503" and log[1].duration_ms >= 0
    Job.objects.filter(pk=job.pk).update(webhook_url="https://hooks.example.com/x")
    page = admin_client.get(reverse("admin:jobs_webhookdelivery_changelist")).content.decode()
    assert "delivered" in page and "503" in page
    admin_client.post(reverse("admin:jobs_webhookdelivery_changelist"),
                      {"action": "redeliver", "_selected_action": [log[0].pk]})
    (sent,) = stub_broker.queues["webhooks"].queue
    assert "https://hooks.example.com/x" in sent.decode()
    assert "no delivery yet" not in _page(admin_client, job)


def test_stage_runs_admin_marks_reused_and_cancelled(admin_client, submit):
    job = submit()
    services.stage_claim(job_id=str(job.pk), stage="resize")
    services.job_cancel(job_id=job.pk)
    html = admin_client.get(reverse("admin:jobs_stagerun_changelist")).content.decode()
    assert ">cancelled</span>" in html
    assert StageRun.objects.get(job=job).finished_at <= timezone.now()
