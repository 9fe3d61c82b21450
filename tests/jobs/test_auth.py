"""Identity, ownership and anonymous access over HTTP: who may call what, and see whose jobs."""

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from jobs import runner
from jobs.demo import DEMO_USERNAME, demo_account_ensure
from jobs.models import Batch, Job

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"


def _api_routes() -> Iterator[tuple[str, str, str]]:
    """(name, method, action) of every API route the URLconf has, found by walking it, so a
    route added later is covered without editing this test."""

    def walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    for route, pattern in walk(get_resolver().url_patterns):
        if not route.startswith("api/") or "format" in route:
            continue  # the .json/.api suffix twins run the same view
        actions = getattr(pattern.callback, "actions", None)
        if actions:
            for method, action in actions.items():
                yield pattern.name, method, action
        else:
            view = pattern.callback.cls
            for method in ("get", "post", "put", "patch", "delete"):
                if hasattr(view, method):
                    yield pattern.name, method, method


API_ROUTES = sorted(set(_api_routes()))


def _url(name: str, job: Job) -> str:
    try:
        return reverse(name, kwargs={"pk": job.pk})
    except Exception:
        return reverse(name)


def _call(client: APIClient, name: str, method: str, job: Job, image: bytes) -> Any:
    url = _url(name, job)
    # The upload routes, each with the form field that carries its image.
    field = {"job-list": "file", "batch-list": "file", "compat-analyze": "file",
             "compat-process": "image"}.get(name)
    if field and method == "post":
        upload = io.BytesIO(image)
        upload.name = "astronaut.png"
        return client.post(url, {field: upload}, format="multipart")
    return getattr(client, method)(url)


@pytest.fixture
def completed(submit) -> Job:
    job = submit(owner=None)
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    # An anonymous batch under the same id, so batch-detail (reversed with job.pk) exists too.
    Batch.objects.create(id=job.pk)
    return Job.objects.get(pk=job.pk)


def test_the_route_walk_finds_every_job_action():
    actions = {action for _name, _method, action in API_ROUTES}
    assert {"list", "create", "retrieve", "result", "original", "reprocess", "cancel"} <= actions
    assert {"step-catalogue", "api-root", "schema"} <= {name for name, _m, _a in API_ROUTES}


@pytest.mark.parametrize(("name", "method", "action"), API_ROUTES)
def test_anonymous_is_refused_401_on_every_api_route_by_default(
    anon, completed, image_bytes, stored_originals, name, method, action
):
    before = stored_originals()
    response = _call(anon, name, method, completed, image_bytes("astronaut.png"))
    assert response.status_code == 401, (name, method, response.content)
    assert response["WWW-Authenticate"] == "Token"
    assert "html" not in response["Content-Type"]  # JSON (the schema view: OpenAPI YAML)
    assert b"Authentication credentials were not provided" in response.content
    assert Job.objects.count() == 1 and stored_originals() == before


BY_ID_ALLOWED = {"create", "retrieve", "result", "original", "get"}


@pytest.mark.parametrize(("name", "method", "action"), API_ROUTES)
def test_by_id_mode_lets_anonymous_clients_only_upload_and_read_by_id(
    settings, anon, completed, image_bytes, name, method, action
):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    response = _call(anon, name, method, completed, image_bytes("astronaut.png"))
    # Jobs by id, the step catalogue and the presets (what an uploader needs to know); never
    # the account routes (webhook secrets). The seeds' routes (compat-*) are uploads and reads
    # by id too.
    by_id_route = (
        name.startswith(("job-", "batch-", "compat-"))
        or name in ("step-catalogue", "preset-list")
    )
    if (action in BY_ID_ALLOWED or name.startswith("compat-")) and by_id_route:
        assert response.status_code in (200, 202), (name, method, response.content)
    else:
        assert response.status_code == 401, (name, method, response.content)
    assert Job.objects.get(pk=completed.pk).status == Job.Status.COMPLETED  # not acted on


def test_by_id_upload_is_anonymous_and_readable_by_its_id(settings, anon, image_bytes):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    upload = io.BytesIO(image_bytes("astronaut.png"))
    upload.name = "astronaut.png"
    accepted = anon.post(JOBS, {"file": upload}, format="multipart")
    assert accepted.status_code == 202
    job = Job.objects.get(pk=accepted.json()["id"])
    assert job.owner is None
    assert anon.get(f"{JOBS}{job.pk}/").json()["status"] == "queued"
    original = anon.get(f"{JOBS}{job.pk}/original/")
    assert b"".join(original.streaming_content) == image_bytes("astronaut.png")
    assert anon.get(JOBS).status_code == 401  # no listing, even of anonymous jobs
    assert anon.post(f"{JOBS}{job.pk}/cancel/").status_code == 401
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_by_id_anonymous_never_sees_a_users_job(settings, anon, submit, user):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    job = submit(owner=user)
    for suffix in ("", "original/", "result/"):
        response = anon.get(f"{JOBS}{job.pk}/{suffix}")
        assert response.status_code == 404, suffix
        assert response.json()["detail"] == "No Job matches the given query."


def test_an_anonymous_job_is_not_a_users_job(settings, api, submit):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    anonymous_job = submit(owner=None)
    assert api.get(f"{JOBS}{anonymous_job.pk}/").status_code == 404
    assert api.get(JOBS).json()["count"] == 0


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("get", "original/"), ("get", "result/"), ("post", "reprocess/"),
     ("post", "cancel/")],
)
def test_another_users_job_is_404_never_403(
    client_for, other_user, submit, user, method, suffix
):
    job = submit(owner=user)
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)  # completed: result and reprocess would work
    response = getattr(client_for(other_user), method)(f"{JOBS}{job.pk}/{suffix}")
    assert response.status_code == 404, response.content
    assert Job.objects.get(pk=job.pk).run == 1  # nothing was reprocessed
    mine = getattr(client_for(user), method)(f"{JOBS}{job.pk}/{suffix}")
    assert mine.status_code in (200, 202, 409), mine.content  # the owner is let through


def test_list_shows_only_your_own_jobs(api, client_for, other_user, submit, user):
    mine = submit(owner=user)
    theirs = submit(owner=other_user)
    assert [job["id"] for job in api.get(JOBS).json()["results"]] == [str(mine.pk)]
    other_listing = client_for(other_user).get(JOBS).json()
    assert [job["id"] for job in other_listing["results"]] == [str(theirs.pk)]


def test_an_upload_belongs_to_its_uploader(api, user, image_bytes):
    upload = io.BytesIO(image_bytes("astronaut.png"))
    upload.name = "astronaut.png"
    accepted = api.post(JOBS, {"file": upload}, format="multipart")
    assert Job.objects.get(pk=accepted.json()["id"]).owner == user


def test_staff_see_and_act_on_every_job(client_for, staff, submit, user, other_user):
    jobs = {submit(owner=user).pk, submit(owner=other_user).pk, submit(owner=None).pk}
    ops = client_for(staff)
    assert {job["id"] for job in ops.get(JOBS).json()["results"]} == {str(pk) for pk in jobs}
    some = next(iter(jobs))
    assert ops.post(f"{JOBS}{some}/cancel/").json()["status"] == "cancelled"


def test_a_wrong_token_is_401(client_for, user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(JOBS).status_code == 401


def test_browsable_api_session_login_sees_own_jobs_only(client, user, other_user, submit):
    mine, theirs = submit(owner=user), submit(owner=other_user)
    client.force_login(user)
    page = client.get(JOBS, HTTP_ACCEPT="text/html").content.decode()
    assert str(mine.pk) in page and str(theirs.pk) not in page
    assert client.get(f"{JOBS}{theirs.pk}/", HTTP_ACCEPT="text/html").status_code == 404


def test_browsable_api_anonymous_gets_a_login_link(client):
    page = client.get(JOBS, HTTP_ACCEPT="text/html")
    assert page.status_code == 401
    assert "/api-auth/login/" in page.content.decode()


def test_drf_create_token_command_gives_a_working_token(user, capsys):
    from django.core.management import call_command

    call_command("drf_create_token", user.username)
    printed = capsys.readouterr().out.split()
    assert printed[:2] == ["Generated", "token"]  # the README's awk '{print $3}' relies on it
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {printed[2]}")
    assert client.get(JOBS).status_code == 200


def test_demo_account_is_made_once_on_a_fresh_database(django_user_model):
    first = demo_account_ensure()
    assert first.username == DEMO_USERNAME and first.password
    assert django_user_model.objects.get(username=DEMO_USERNAME).check_password(first.password)
    again = demo_account_ensure()
    assert again.password is None and again.token == first.token  # shown once, token kept
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {again.token}")
    assert client.get(JOBS).status_code == 200


def test_no_demo_account_where_users_already_exist(user, django_user_model):
    assert demo_account_ensure() is None
    assert not django_user_model.objects.filter(username=DEMO_USERNAME).exists()


def test_a_password_login_opens_a_browsable_api_session(client, django_user_model, submit):
    # Through django-axes's backend (AUTHENTICATION_BACKENDS), as a browser logs in.
    walker = django_user_model.objects.create_user("walker", password="walker-password")
    job = submit(owner=walker)
    login = client.post("/api-auth/login/", {"username": "walker", "password": "walker-password",
                                             "next": JOBS})
    assert login.status_code == 302 and login["Location"] == JOBS
    page = client.get(JOBS, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and str(job.pk) in page.content.decode()
