"""Completion events, and when webhooks are scheduled (delivery: test_webhooks.py)."""

import json

import pytest

from jobs.events import event_payload
from jobs.models import Job

pytestmark = pytest.mark.django_db


def test_event_payload_names_the_job_and_its_outcome(submit):
    job = submit()
    job.status, job.result_key = Job.Status.COMPLETED, "jobs/x/result.jpg"
    job.detections = {"labels": ["face", "person"], "faces": [{"box": [1, 2, 3, 4]}]}
    payload = event_payload(job)
    assert payload["job_id"] == str(job.pk)
    assert payload["event"] == "job.completed" and payload["labels"] == ["face", "person"]
    assert payload["faces"] == 1 and payload["result"] == f"/api/v1/jobs/{job.pk}/result/"
    json.dumps(payload)  # must be plain JSON


def test_broadcast_falls_back_to_a_retrying_actor_when_rabbitmq_refuses(submit):
    from unittest import mock

    from jobs import receivers

    job = submit()
    with (
        mock.patch("jobs.events.publish_processed", side_effect=ConnectionError("refused")),
        mock.patch("jobs.receivers.send_now") as fallback,
    ):
        receivers.broadcast(Job, job=job)
    fallback.assert_called_once_with("publish_processed_event", event_payload(job))


def test_webhook_is_scheduled_only_for_jobs_that_asked_for_one(submit):
    from unittest import mock

    from jobs import receivers

    with mock.patch("jobs.receivers.send_now") as send:
        receivers.call_webhook(Job, job=submit())
        send.assert_not_called()
        hooked = submit(webhook_url="http://127.0.0.1:9/hook")
        receivers.call_webhook(Job, job=hooked)
    send.assert_called_once_with(
        "deliver_webhook", "http://127.0.0.1:9/hook", event_payload(hooked)
    )


def test_a_broadcast_event_marks_the_job_notified(submit):
    from unittest import mock

    from jobs import receivers

    job = submit()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.COMPLETED)
    job.refresh_from_db()
    with mock.patch("jobs.events.publish_processed", return_value=True) as publish:
        receivers.broadcast(Job, job=job)
    publish.assert_called_once()
    assert Job.objects.get(pk=job.pk).notified_at is not None


def test_events_that_never_reached_rabbitmq_are_resent_by_the_reaper(
    submit, django_capture_on_commit_callbacks, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from jobs import reaper

    settings.RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"  # sweeps only with RabbitMQ

    lost, told = submit(), submit("chelsea.png")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=lost.pk).update(status=Job.Status.FAILED, updated_at=an_hour_ago)
    Job.objects.filter(pk=told.pk).update(
        status=Job.Status.COMPLETED, updated_at=an_hour_ago, notified_at=an_hour_ago
    )
    with django_capture_on_commit_callbacks(execute=False) as sent:
        resent = reaper.jobs_rebroadcast_unnotified(older_than=timedelta(minutes=10))
    assert resent == [str(lost.pk)] and len(sent) == 1
    assert reaper.jobs_rebroadcast_unnotified(older_than=timedelta(minutes=10)) == []


def test_an_event_confirmed_but_not_recorded_is_not_published_again_at_once(submit, caplog):
    """The database going away after RabbitMQ confirmed the event: logged, not raised, so the
    receiver does not hand the same event to the retrying actor (a duplicate at once)."""
    from unittest import mock

    from django.db import OperationalError

    from jobs import receivers

    job = submit()
    with (
        mock.patch("jobs.events.publish_processed", return_value=True) as publish,
        mock.patch("jobs.notifications.mark_notified", side_effect=OperationalError("gone")),
        mock.patch("jobs.receivers.send_now") as fallback,
    ):
        receivers.broadcast(Job, job=job)
    publish.assert_called_once()
    fallback.assert_not_called()
    assert "published but not recorded" in caplog.text
