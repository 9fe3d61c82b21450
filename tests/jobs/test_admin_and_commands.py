"""The ops console and the management commands, which call the same services as the API."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from jobs import runner
from jobs.models import Job, StageRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(submit) -> Job:
    job = submit()
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    return Job.objects.get(pk=job.pk)


def test_admin_lists_jobs_and_shows_the_timeline(admin_client, completed):
    listing = admin_client.get(reverse("admin:jobs_job_changelist"))
    assert listing.status_code == 200
    assert str(completed.pk) in listing.content.decode()
    detail = admin_client.get(reverse("admin:jobs_job_change", args=[completed.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    for stage in ("resize", "watermark", "detect"):
        assert stage in html
    assert reverse("job-result", kwargs={"pk": completed.pk}) in html  # the result thumbnail
    assert 'name="status"' not in html  # state is not editable


def test_admin_filters_by_status(admin_client, submit, completed):
    queued = submit("chelsea.png")
    page = admin_client.get(reverse("admin:jobs_job_changelist"), {"status__exact": "queued"})
    html = page.content.decode()
    assert str(queued.pk) in html and str(completed.pk) not in html


def test_admin_reprocess_and_cancel_actions_call_the_services(admin_client, submit, completed):
    changelist = reverse("admin:jobs_job_changelist")
    admin_client.post(changelist, {"action": "reprocess_jobs", "_selected_action": [completed.pk]})
    assert Job.objects.get(pk=completed.pk).status == Job.Status.QUEUED
    running = submit("chelsea.png")
    admin_client.post(changelist, {"action": "cancel_jobs", "_selected_action": [running.pk]})
    assert Job.objects.get(pk=running.pk).status == Job.Status.CANCELLED


def test_admin_cannot_add_or_delete_jobs(admin_client, completed):
    assert admin_client.get(reverse("admin:jobs_job_add")).status_code == 403
    delete = reverse("admin:jobs_job_delete", args=[completed.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Job.objects.filter(pk=completed.pk).exists()


def test_view_only_staff_cannot_run_the_actions(client, django_user_model, submit):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    job = submit()
    changelist = reverse("admin:jobs_job_changelist")
    assert client.get(changelist).status_code == 200
    client.post(changelist, {"action": "cancel_jobs", "_selected_action": [job.pk]})
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_reprocess_command_requeues_jobs(completed, capsys):
    call_command("reprocess", str(completed.pk), "--from-stage", "detect")
    job = Job.objects.get(pk=completed.pk)
    assert job.status == Job.Status.QUEUED and job.stage == "detect" and job.run == 2
    assert "1 job(s) requeued" in capsys.readouterr().out


def test_reprocess_command_refuses_unknown_ids(completed):
    with pytest.raises(CommandError, match="no such job: nope"):
        call_command("reprocess", str(completed.pk), "nope")
    assert Job.objects.get(pk=completed.pk).status == Job.Status.COMPLETED


def test_reprocess_command_reports_jobs_it_cannot_requeue(submit):
    queued = submit()
    with pytest.raises(CommandError, match="1 job"):
        call_command("reprocess", str(queued.pk))
    assert StageRun.objects.filter(job=queued).count() == 0


def test_resume_jobs_command_sweeps_once(
    submit, capsys, stub_broker, django_capture_on_commit_callbacks, settings
):
    settings.RABBITMQ_URL = "amqp://rabbitmq.invalid/"  # as beside RabbitMQ (the broker is a stub)
    job = submit()
    stub_broker.flush_all()  # the upload's own message is not what this test is about
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_jobs", "--older-than", "0")
    assert "1 job(s) resumed" in capsys.readouterr().out
    (message,) = stub_broker.queues["resize"].queue
    assert message.decode().count(str(job.pk)) == 1
