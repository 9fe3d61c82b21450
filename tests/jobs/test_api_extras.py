"""Issue 9's extras over HTTP: idempotent uploads, dedupe of finished results, presets."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from jobs import idempotency, retention, storage
from jobs.models import IdempotencyKey, Job, Preset, StageRun
from jobs.signals import job_finished
from tests.helpers import run_all_stages as _run
from tests.helpers import upload_file as _file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _dedupe_on(_no_dedupe, settings) -> None:
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "DEDUPE": True}  # its default


def _upload(client, data: bytes, key: str | None = None, **fields):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        "/api/v1/jobs/", {"file": _file(data), **fields}, format="multipart", **headers
    )


# --- idempotency ------------------------------------------------------------------------------

def test_a_retry_with_the_same_key_and_body_answers_the_same_and_creates_nothing(
    api, image_bytes, stored_originals
):
    data = image_bytes("astronaut.png")
    first = _upload(api, data, "key-1", steps="grayscale")
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first.headers
    retry = _upload(api, data, "key-1", steps="grayscale")
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1
    assert len(stored_originals()) == 1


def test_the_same_key_with_another_body_is_a_422_and_creates_nothing(api, image_bytes):
    data = image_bytes("astronaut.png")
    assert _upload(api, data, "key-2", steps="grayscale").status_code == 202
    other_steps = _upload(api, data, "key-2", steps="sharpen")
    assert other_steps.status_code == 422
    assert other_steps.json()["code"] == "idempotency_key_reused"
    other_file = _upload(api, image_bytes("rocket.jpg"), "key-2", steps="grayscale")
    assert other_file.status_code == 422
    assert Job.objects.count() == 1


def test_keys_are_per_user_and_expire(api, client_for, other_user, image_bytes, settings):
    data = image_bytes("astronaut.png")
    mine = _upload(api, data, "shared")
    theirs = _upload(client_for(other_user), data, "shared")
    assert theirs.status_code == 202 and theirs.json()["id"] != mine.json()["id"]
    first_used = IdempotencyKey.objects.first().created_at
    IdempotencyKey.objects.update(created_at=first_used - timedelta(hours=25))
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "IDEMPOTENCY_TTL_H": 24}
    again = _upload(api, data, "shared")
    assert again.status_code == 202 and again.json()["id"] != mine.json()["id"]
    assert "Idempotent-Replayed" not in again.headers
    assert IdempotencyKey.objects.count() == 2  # the expired ones were forgotten


def test_a_refused_upload_keeps_no_key_so_its_retry_runs_again(api, image_bytes):
    refused = _upload(api, b"not an image", "key-3")
    assert refused.status_code == 415
    assert not IdempotencyKey.objects.exists()
    assert _upload(api, image_bytes("astronaut.png"), "key-3").status_code == 202


def test_anonymous_keys_and_bad_keys_are_refused(settings, anon, api, image_bytes):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    data = image_bytes("astronaut.png")
    refused = _upload(anon, data, "anon-key")
    assert refused.status_code == 400
    assert "needs an account" in refused.json()["Idempotency-Key"][0]
    assert _upload(api, data, "x" * 256).status_code == 400
    assert _upload(api, data, "").status_code == 400
    assert not Job.objects.exists()


def test_a_concurrent_duplicate_replays_the_committed_answer(user):
    """The race: the key is not there when looked up, but another request inserts it before
    this one does. The unique constraint refuses the second insert; the answer is replayed
    and the job this request would have made is rolled back."""
    print_ = idempotency.fingerprint({"file": "x"})
    winner = {"id": "winner"}
    real_stored = idempotency._stored
    calls = []

    def stored_late(owner, key, fingerprint):
        calls.append(key)
        if len(calls) == 1:  # the other request commits right after this look-up
            IdempotencyKey.objects.create(owner=owner, key=key, fingerprint=fingerprint,
                                          status_code=202, response=winner)
            return None
        return real_stored(owner, key, fingerprint)

    def create():
        raise AssertionError("the insert must fail before any work is done")

    with mock.patch.object(idempotency, "_stored", stored_late):
        code, body, replayed = idempotency.answered(
            user=user, key="race", print_=print_, create=create
        )
    assert (code, body, replayed) == (202, winner, True)
    assert IdempotencyKey.objects.count() == 1
    assert not Job.objects.exists()


def test_an_integrity_error_without_a_stored_key_is_not_swallowed(user):
    def create():
        raise IntegrityError("something else")

    with pytest.raises(IntegrityError):
        idempotency.answered(user=user, key="k", print_="p", create=create)


# --- dedupe -----------------------------------------------------------------------------------

def test_the_same_upload_again_reuses_the_finished_result_and_runs_no_stage(
    api, image_bytes, stub_broker, django_capture_on_commit_callbacks
):
    data = image_bytes("astronaut.png")
    source = _run(_upload(api, data, steps="grayscale").json()["id"])
    assert source.status == Job.Status.COMPLETED and source.reused_from is None
    stub_broker.flush_all()
    finished = []
    job_finished.connect(lambda sender, job, **_: finished.append(job.pk), weak=False,
                         dispatch_uid="test-dedupe")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            again = _upload(api, data, steps="grayscale")
    finally:
        job_finished.disconnect(dispatch_uid="test-dedupe")
    assert again.status_code == 202
    body = again.json()
    assert body["status"] == "completed"
    assert body["reused_from"] == str(source.pk)
    assert body["original"]["sha256"] == source.original_sha256
    assert body["detections"] == source.detections
    assert body["timeline"] == []
    job = Job.objects.get(pk=body["id"])
    assert not StageRun.objects.filter(job=job).exists()
    assert all(not queue.qsize() for queue in stub_broker.queues.values())  # nothing sent
    assert finished == [job.pk]  # completed: the event and webhook go out as for any job
    assert job.labels == source.labels and job.phash == source.phash
    assert job.result_key != source.result_key
    assert storage.read_bytes(job.result_key) == storage.read_bytes(source.result_key)
    result = api.get(f"/api/v1/jobs/{job.pk}/result/")
    assert result.status_code == 200


def test_deleting_the_source_leaves_the_reusing_job_whole(api, image_bytes):
    data = image_bytes("astronaut.png")
    source = _run(_upload(api, data).json()["id"])
    reused = Job.objects.get(pk=_upload(api, data).json()["id"])
    assert reused.reused_from == source.pk
    retention.job_delete(job_id=source.pk)
    assert api.get(f"/api/v1/jobs/{reused.pk}/result/").status_code == 200
    assert api.get(f"/api/v1/jobs/{reused.pk}/").json()["reused_from"] == str(source.pk)


def test_other_options_other_users_active_sources_and_the_switch_do_not_reuse(
    api, client_for, other_user, image_bytes, settings
):
    data = image_bytes("astronaut.png")
    queued = _upload(api, data).json()
    assert _upload(api, data).json()["reused_from"] is None  # the first is not finished
    _run(queued["id"])
    for fields in ({"steps": "grayscale"}, {"output_format": "png"}):
        assert _upload(api, data, **fields).json()["reused_from"] is None
    assert _upload(client_for(other_user), data).json()["reused_from"] is None
    assert _upload(api, image_bytes("rocket.jpg")).json()["reused_from"] is None
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "DEDUPE": False}
    assert _upload(api, data).json()["reused_from"] is None
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "DEDUPE": True}
    assert _upload(api, data).json()["reused_from"] == queued["id"]


def test_a_source_whose_result_vanished_is_processed_instead(api, image_bytes):
    data = image_bytes("astronaut.png")
    source = _run(_upload(api, data).json()["id"])
    storage.delete_quietly(source.result_key)
    again = _upload(api, data).json()
    assert again["status"] == "queued" and again["reused_from"] is None


# --- presets ----------------------------------------------------------------------------------

@pytest.fixture
def preset() -> Preset:
    preset = Preset(name="mono", description="black and white, sharp",
                    steps=["grayscale", "sharpen"], output_format="png")
    preset.full_clean()
    preset.save()
    return preset


def test_presets_are_listed(api, preset):
    listing = api.get("/api/v1/presets/")
    assert listing.status_code == 200
    (entry,) = listing.json()
    assert entry["name"] == "mono" and entry["output_format"] == "PNG"
    assert [step["name"] for step in entry["steps"]] == ["grayscale", "sharpen"]
    assert api.get("/api/v1/presets/?page=2").status_code == 400


def test_an_upload_with_a_preset_records_its_steps_even_after_it_changes(
    api, image_bytes, preset
):
    job = _upload(api, image_bytes("astronaut.png"), preset="mono").json()
    assert [step["name"] for step in job["steps"]] == ["grayscale", "sharpen"]
    assert job["output_format"] == "PNG"
    preset.steps = [{"name": "blur", "params": {"radius": 4}}]
    preset.full_clean()
    preset.save()
    stored = Job.objects.get(pk=job["id"])
    assert [step["name"] for step in stored.steps] == ["grayscale", "sharpen"]
    assert api.get(f"/api/v1/jobs/{job['id']}/").json()["steps"] == job["steps"]
    done = _run(job["id"])
    assert done.status == Job.Status.COMPLETED and done.result_key.endswith(".png")
    later = _upload(api, image_bytes("rocket.jpg"), preset="mono").json()
    assert [step["name"] for step in later["steps"]] == ["blur"]


def test_preset_errors_unknown_and_with_steps_and_format_override(api, image_bytes, preset):
    data = image_bytes("astronaut.png")
    unknown = _upload(api, data, preset="sepia")
    assert unknown.status_code == 400
    assert "unknown preset 'sepia'" in unknown.json()["preset"][0]
    assert "mono" in unknown.json()["preset"][0]
    both = _upload(api, data, preset="mono", steps="blur")
    assert both.status_code == 400 and "not both" in both.json()["preset"][0]
    webp = _upload(api, data, preset="mono", output_format="webp").json()
    assert webp["output_format"] == "WEBP" and len(webp["steps"]) == 2
    assert Job.objects.count() == 1


def test_a_preset_with_bad_steps_or_format_is_not_saved():
    with pytest.raises(ValidationError) as refused:
        Preset(name="bad", steps=["nosuchfilter"], output_format="bmp").full_clean()
    assert {"steps", "output_format"} <= set(refused.value.message_dict)
    with pytest.raises(ValidationError, match="steps"):
        Preset(name="slow", steps=[{"name": "denoise", "params": {}}] * 40).full_clean()


def test_the_admin_manages_presets(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-x-12345")
    client.force_login(admin)
    added = client.post("/admin/jobs/preset/add/", {
        "name": "soft", "description": "", "steps": '["blur"]', "output_format": "jpg",
    })
    assert added.status_code == 302, added.content[:2000]
    assert Preset.objects.get(name="soft").output_format == "JPEG"
    refused = client.post("/admin/jobs/preset/add/", {
        "name": "nope", "description": "", "steps": '["nosuchfilter"]', "output_format": "jpeg",
    })
    assert refused.status_code == 200 and not Preset.objects.filter(name="nope").exists()


def test_the_save_preset_command_creates_updates_and_refuses(capsys):
    call_command("save_preset", "mono", "--steps", "grayscale,sharpen", "--output-format", "png")
    call_command("save_preset", "mono", "--steps", '[{"name": "blur", "params": {"radius": 2}}]')
    preset = Preset.objects.get(name="mono")
    assert preset.steps == [{"name": "blur", "params": {"radius": 2}}]
    assert preset.output_format == "JPEG"
    with pytest.raises(CommandError, match="steps"):
        call_command("save_preset", "bad", "--steps", "nosuchfilter")
    assert not Preset.objects.filter(name="bad").exists()
