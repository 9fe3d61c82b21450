"""The seeds' routes, called as their clients call them: field names, keys, status values."""

from urllib.parse import urlsplit

import pytest

from jobs import services
from jobs.models import Job
from tests.helpers import run_all_stages as _run
from tests.helpers import upload_file as _file

pytestmark = pytest.mark.django_db


def _fetch(client, url: str) -> bytes:
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.fixture
def by_id(settings) -> None:
    settings.PHOTOPIPE_ANONYMOUS = "by-id"


@pytest.mark.parametrize("slash", ["", "/"])
def test_upload_then_status_as_the_seed_client_does(by_id, anon, image_bytes, slash):
    accepted = anon.post(f"/upload{slash}", {"file": _file(image_bytes("astronaut.png"))},
                         format="multipart")
    assert accepted.status_code == 202
    assert list(accepted.json()) == ["job_id"]
    job_id = accepted.json()["job_id"]
    assert Job.objects.get(pk=job_id).owner is None

    queued = anon.get(f"/status/{job_id}{slash}").json()
    assert queued == {"status": "QUEUED", "step": "resize", "label": None, "file": None}
    _run(job_id)
    done = anon.get(f"/status/{job_id}{slash}").json()
    assert done["status"] == "COMPLETED" and done["step"] == "detect"
    assert done["label"] == "face"
    assert _fetch(anon, done["file"])[:3] == b"\xff\xd8\xff"  # the JPEG result


def test_status_values_of_processing_failed_and_cancelled_jobs(api, submit):
    job = submit()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.PROCESSING, stage="watermark")
    assert api.get(f"/status/{job.pk}").json()["status"] == "PROCESSING"
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="corrupt image")
    assert api.get(f"/status/{job.pk}").json() == {
        "status": "FAILED", "step": "watermark", "label": None, "file": None}
    cancelled = services.job_cancel(job_id=submit().pk)
    assert api.get(f"/status/{cancelled.pk}").json()["status"] == "FAILED"


def test_analyze_then_tasks_as_the_seed_client_does(by_id, anon, image_bytes):
    accepted = anon.post("/api/v1/analyze", {"file": _file(image_bytes("rocket.jpg"))},
                         format="multipart")
    assert accepted.status_code == 202
    task_id = accepted.json()["task_id"]
    assert accepted.json() == {"task_id": task_id, "status": "processing"}
    pending = anon.get(f"/api/v1/tasks/{task_id}").json()
    assert pending == {"task_id": task_id, "status": "PENDING", "result_url": None,
                       "error": None}
    _run(task_id)
    done = anon.get(f"/api/v1/tasks/{task_id}").json()
    assert done["status"] == "COMPLETED" and done["error"] is None
    assert _fetch(anon, done["result_url"])[:3] == b"\xff\xd8\xff"


def test_a_failed_task_says_why(api, submit):
    job = submit()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="corrupt image")
    assert api.get(f"/api/v1/tasks/{job.pk}").json() == {
        "task_id": str(job.pk), "status": "FAILED", "result_url": None,
        "error": "corrupt image"}


def test_process_takes_image_and_filters_and_answers_the_job(api, image_bytes, user):
    accepted = api.post("/api/process/", {
        "image": _file(image_bytes("coffee.png")), "filters": "grayscale,sharpen",
    }, format="multipart")
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["status"] == "queued" and accepted["Location"] == body["url"]
    # A plain str: a real WSGI server (wsgiref) answers 500 for any other header type.
    assert type(accepted["Location"]) is str
    assert [step["name"] for step in body["steps"]] == ["grayscale", "sharpen"]
    job = Job.objects.get(pk=body["id"])
    assert job.owner == user and job.plan == ["resize", "filters", "watermark", "detect"]


def test_process_refusals_name_the_seed_fields(api, image_bytes):
    photo = image_bytes("coffee.png")
    two = api.post("/api/process/", {"image": [_file(photo), _file(photo)]}, format="multipart")
    assert two.status_code == 400 and "exactly one file in the field 'image'" in (
        two.json()["image"][0])
    bad = api.post("/api/process/", {"image": _file(photo), "filters": "melt"},
                   format="multipart")
    assert bad.status_code == 400 and list(bad.json()) == ["filters"]
    missing = api.post("/api/process/", {"file": _file(photo)}, format="multipart")
    assert missing.status_code == 400 and list(missing.json()) == ["image"]
    assert Job.objects.count() == 0


@pytest.mark.parametrize("url", ["/upload", "/upload/", "/api/v1/analyze"])
def test_compat_uploads_refuse_what_the_jobs_api_refuses(api, url):
    not_image = api.post(url, {"file": _file(b"%PDF-1.4 not an image", "a.pdf")},
                         format="multipart")
    assert not_image.status_code == 415
    assert Job.objects.count() == 0


@pytest.mark.parametrize(("method", "url"), [
    ("post", "/upload"), ("post", "/upload/"), ("post", "/api/v1/analyze"),
    ("post", "/api/process/"), ("get", "/status/{id}"), ("get", "/api/v1/tasks/{id}"),
])
def test_without_anonymous_access_the_compat_routes_need_a_token(anon, submit, method, url):
    job = submit()
    response = getattr(anon, method)(url.format(id=job.pk))
    assert response.status_code == 401
    assert Job.objects.count() == 1


def test_another_users_job_is_404_on_the_compat_reads(client_for, submit, other_user):
    theirs = submit(owner=other_user)
    me = client_for(None)
    for url in (f"/status/{theirs.pk}", f"/api/v1/tasks/{theirs.pk}", "/status/not-a-uuid"):
        assert me.get(url).status_code == 401
    from django.contrib.auth import get_user_model

    stranger = client_for(get_user_model().objects.create_user("carol"))
    for url in (f"/status/{theirs.pk}", f"/api/v1/tasks/{theirs.pk}", "/status/not-a-uuid"):
        assert stranger.get(url).status_code == 404, url
