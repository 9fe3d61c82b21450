"""Deleting jobs (API DELETE, purge_jobs, the reaper's retention) and intermediates of failed
and cancelled jobs: every stored object goes, including a late write by a running stage."""

from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

import processing
from jobs import retention, runner, services, storage
from jobs.models import Job, StageRun

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"


def run_stages(job: Job, *stages: str) -> Job:
    for stage in stages or job.plan:
        runner.run_stage(str(job.pk), stage)
    return Job.objects.get(pk=job.pk)


def job_dir_exists(job: Job) -> bool:
    location = Path(django_settings.STORAGES["default"]["OPTIONS"]["location"])
    return (location / storage.job_prefix(job.pk)).exists()


def test_delete_removes_the_job_its_runs_and_every_stored_object(api, submit, media_root):
    job = run_stages(submit("chelsea.png", steps=processing.validate_steps(["grayscale"])))
    assert job.status == Job.Status.COMPLETED
    other = submit("coffee.png")
    assert media_root() == {
        job.original_key, other.original_key, f"jobs/{job.pk}/resize.jpg",
        f"jobs/{job.pk}/filters.jpg", f"jobs/{job.pk}/result.jpg",
    }

    response = api.delete(f"{JOBS}{job.pk}/")

    assert response.status_code == 204
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not StageRun.objects.filter(job_id=job.pk).exists()
    assert media_root() == {other.original_key}  # the other job keeps its original
    assert not job_dir_exists(job)
    assert api.get(f"{JOBS}{job.pk}/").status_code == 404


def test_delete_of_an_unknown_job_is_404(api, media_root):
    response = api.delete(f"{JOBS}00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert response.json()["detail"]


def _while_processing(action):
    """Patch resize so ``action`` happens after the stage read its input, before it writes:
    the stage is in flight, as on a worker, when the job is deleted or cancelled."""
    real = processing.resize_bytes

    def resize_then_act(data: bytes, **kwargs):
        action()
        return real(data, **kwargs)

    return mock.patch("processing.resize_bytes", side_effect=resize_then_act)


def test_deleting_a_job_whose_stage_is_running_leaves_no_late_output(api, submit, media_root):
    job = submit()
    deleted = []
    with _while_processing(lambda: deleted.append(api.delete(f"{JOBS}{job.pk}/"))):
        runner.run_stage(str(job.pk), "resize")  # writes resize.jpg after the delete
    assert deleted[0].status_code == 204
    assert not Job.objects.filter(pk=job.pk).exists()
    assert media_root() == set()
    assert not job_dir_exists(job)


def test_cancelling_a_job_whose_stage_is_running_leaves_no_late_output(api, submit, media_root):
    job = submit()
    with _while_processing(lambda: api.post(f"{JOBS}{job.pk}/cancel/")):
        runner.run_stage(str(job.pk), "resize")
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED
    assert media_root() == {job.original_key}


def test_cancel_deletes_intermediates_and_reprocess_from_a_later_stage_names_them(
    api, submit, media_root
):
    job = run_stages(submit(), "resize")
    assert f"jobs/{job.pk}/resize.jpg" in media_root()
    assert api.post(f"{JOBS}{job.pk}/cancel/").status_code == 200
    assert media_root() == {job.original_key}

    refused = api.post(f"{JOBS}{job.pk}/reprocess/", {"from_stage": "watermark"}, format="json")
    assert refused.status_code == 400
    assert f"resize (jobs/{job.pk}/resize.jpg)" in refused.json()["detail"]
    assert "reprocess from resize" in refused.json()["detail"]
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED  # nothing queued

    again = api.post(f"{JOBS}{job.pk}/reprocess/", {}, format="json")
    assert again.status_code == 202
    assert run_stages(Job.objects.get(pk=job.pk)).status == Job.Status.COMPLETED


def test_a_failed_job_keeps_no_intermediates(submit, media_root):
    job = run_stages(submit(), "resize")
    # A real fault: the watermark stage finds its input corrupt and fails the job at once.
    storage.write_bytes(f"jobs/{job.pk}/resize.jpg", b"\xff\xd8\xff garbage")
    failed = run_stages(job, "watermark")
    assert failed.status == Job.Status.FAILED and failed.stage == "watermark"
    assert media_root() == {job.original_key}
    with pytest.raises(CommandError, match="1 job"):
        call_command("reprocess", str(job.pk), "--from-stage", "watermark")
    assert Job.objects.get(pk=job.pk).status == Job.Status.FAILED


def test_a_completed_job_may_still_reprocess_from_a_later_stage(api, submit, media_root):
    job = run_stages(submit())
    response = api.post(f"{JOBS}{job.pk}/reprocess/", {"from_stage": "watermark"}, format="json")
    assert response.status_code == 202


# --- purge_jobs and retention -----------------------------------------------------------------

@pytest.fixture
def aged(submit, media_root):
    """Jobs of each kind, finished 40 days ago unless named recent."""

    def make(status: str, *, days: float = 40, name: str = "chelsea.png") -> Job:
        job = submit(name)
        if status == Job.Status.COMPLETED:
            job = run_stages(job)
        elif status == Job.Status.FAILED:
            job = run_stages(job, "resize")
            storage.write_bytes(f"jobs/{job.pk}/resize.jpg", b"broken")
            job = run_stages(job, "watermark")
        elif status == Job.Status.CANCELLED:
            services.job_cancel(job_id=job.pk)
        assert Job.objects.get(pk=job.pk).status == status
        moment = timezone.now() - timedelta(days=days)
        Job.objects.filter(pk=job.pk).update(
            created_at=moment, finished_at=moment if status != Job.Status.QUEUED else None
        )
        return job

    return make


def _bytes_of(keys: set[str]) -> int:
    location = Path(django_settings.STORAGES["default"]["OPTIONS"]["location"])
    return sum((location / key).stat().st_size for key in keys)


def _keys_of(job: Job, stored: set[str]) -> set[str]:
    return {key for key in stored if key == job.original_key or str(job.pk) in key}


def test_purge_dry_run_counts_and_deletes_nothing(aged, media_root, capsys):
    old = aged(Job.Status.COMPLETED)
    before = media_root()
    call_command("purge_jobs", "--older-than", "30", "--dry-run")
    out = capsys.readouterr().out
    keys = _keys_of(old, before)
    assert f"would remove 1 job(s), {len(keys)} object(s), {_bytes_of(keys)} bytes" in out
    assert media_root() == before and Job.objects.filter(pk=old.pk).exists()


def test_purge_removes_finished_jobs_older_than_the_cutoff(aged, media_root, capsys):
    completed, failed, cancelled = (
        aged(Job.Status.COMPLETED), aged(Job.Status.FAILED), aged(Job.Status.CANCELLED)
    )
    recent = aged(Job.Status.COMPLETED, days=10, name="coffee.png")
    queued = aged(Job.Status.QUEUED, name="rocket.jpg")
    stored = media_root()
    purged = set().union(*(_keys_of(job, stored) for job in (completed, failed, cancelled)))
    purged_bytes = _bytes_of(purged)

    call_command("purge_jobs", "--older-than", "30")

    out = capsys.readouterr()
    assert f"removed 3 job(s), {len(purged)} object(s), {purged_bytes} bytes" in out.out
    assert "purging" in out.err  # the progress bar
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, queued.pk}
    assert media_root() == stored - purged
    assert not StageRun.objects.filter(job_id__in=[completed.pk, failed.pk]).exists()


def test_purge_by_status(aged, media_root, capsys):
    completed, _failed = aged(Job.Status.COMPLETED), aged(Job.Status.FAILED)
    queued = aged(Job.Status.QUEUED, name="rocket.jpg")
    call_command("purge_jobs", "--older-than", "30", "--status", "failed")
    assert set(Job.objects.values_list("pk", flat=True)) == {completed.pk, queued.pk}
    # Active jobs only when asked for by name: cancelled, then deleted.
    call_command("purge_jobs", "--older-than", "30", "--status", "queued", "--status", "failed")
    assert set(Job.objects.values_list("pk", flat=True)) == {completed.pk}
    assert media_root() == _keys_of(completed, media_root())
    assert "removed 1 job(s)" in capsys.readouterr().out


def test_purge_refuses_a_bad_selection(media_root):
    with pytest.raises(CommandError):
        call_command("purge_jobs", "--older-than", "-1")
    with pytest.raises(CommandError):
        call_command("purge_jobs", "--older-than", "1", "--status", "nonsense")


def test_purge_skips_a_job_whose_storage_fails_and_says_so(aged, media_root, capsys):
    first, second = aged(Job.Status.COMPLETED), aged(Job.Status.CANCELLED, name="coffee.png")
    real_delete = storage.default_storage.delete

    def failing(name: str) -> None:
        if name == first.original_key:
            raise OSError("disk says no")
        real_delete(name)

    with mock.patch.object(storage.default_storage, "delete", side_effect=failing), \
            pytest.raises(CommandError, match=str(first.pk)):
        call_command("purge_jobs", "--older-than", "30")
    assert set(Job.objects.values_list("pk", flat=True)) == {first.pk}  # rolled back, kept
    assert not Job.objects.filter(pk=second.pk).exists()
    assert "removed 1 job(s)" in capsys.readouterr().out


def test_the_reaper_applies_retention_when_it_is_set(aged, media_root, settings, capsys):
    old = aged(Job.Status.COMPLETED)
    recent = aged(Job.Status.FAILED, days=2, name="coffee.png")
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "RETENTION_DAYS": 0}
    call_command("resume_jobs")
    assert "retention" not in capsys.readouterr().out
    assert Job.objects.filter(pk=old.pk).exists()  # 0 = keep forever

    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "RETENTION_DAYS": 7}
    call_command("resume_jobs")
    assert "retention: removed 1 job(s)" in capsys.readouterr().out
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk}
    assert media_root() == {recent.original_key}


def test_purge_rechecks_each_job_under_its_lock(aged, media_root):
    old = aged(Job.Status.COMPLETED)

    def reprocessed_meanwhile(ids: list[str]) -> list[str]:
        # Selected as old and finished, then reprocessed before its turn came.
        services.job_reprocess(job_id=old.pk)
        return ids

    report = retention.jobs_purge(older_than=timedelta(days=30), progress=reprocessed_meanwhile)
    assert report.jobs == []
    assert Job.objects.get(pk=old.pk).status == Job.Status.QUEUED
    assert old.original_key in media_root()
