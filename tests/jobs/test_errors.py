"""No leaks on errors: every error under /api/ is JSON without internals; deploy checks pass."""

import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from jobs.api.views import StepCatalogueView
from jobs.models import Job

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
JOBS = "/api/v1/jobs/"
NESTED = "[" * 100_000 + "]" * 100_000
LONG_NUMBER = "9" * 5001


def _upload(client, data: bytes, **fields):
    upload = io.BytesIO(data)
    upload.name = "astronaut.png"
    return client.post(JOBS, {"file": upload, **fields}, format="multipart")


@pytest.fixture
def api_no_raise(api) -> APIClient:
    """Answers a server error as a client would see it, instead of raising it in the test."""
    api.raise_request_exception = False
    return api


def _assert_json_400(response, reason: str) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert reason in str(response.json())
    assert b"Traceback" not in response.content and b"sys.set_int" not in response.content


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        pytest.param(NESTED, "nested more than 32 levels deep", id="nested-100k"),
        pytest.param(f'[{{"name": "blur", "params": {{"radius": {LONG_NUMBER}}}}}]',
                     "number too long", id="5001-digits"),
        pytest.param("[" * 40 + "]" * 40, "nested more than 32 levels deep", id="nested-40"),
        # Under Python's 4300-digit limit, but float() of it overflowed in the step check (500).
        pytest.param('[{"name": "rotate", "params": {"angle": ' + "9" * 4000 + "}}]",
                     "number too long", id="4000-digits"),
        pytest.param('[{"name": "blur", "params": {"radius": NaN}}]', "NaN", id="nan"),
        pytest.param('[{"name": "blur", "params": {"radius": 1e999}}]', "out of range",
                     id="infinite"),
    ],
)
def test_bad_steps_in_a_form_are_400_json(api_no_raise, image_bytes, steps, reason):
    response = _upload(api_no_raise, image_bytes("astronaut.png"), steps=steps)
    _assert_json_400(response, reason)
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param('{"steps": ' + NESTED + "}", "nested more than", id="nested-100k"),
        pytest.param('{"from_stage": ' + LONG_NUMBER + "}", "number too long", id="5001-digits"),
        pytest.param('{"from_stage": "resize"', "JSON parse error", id="truncated"),
        pytest.param(b'{"from_stage": "\xff"}', "JSON parse error", id="not-utf8"),
    ],
)
def test_bad_json_bodies_are_400_json(api_no_raise, submit, body, reason):
    job = submit()
    for url in (JOBS, f"{JOBS}{job.pk}/reprocess/"):
        response = api_no_raise.post(url, body, content_type="application/json")
        _assert_json_400(response, reason)


def test_an_oversized_json_body_is_413(api_no_raise, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_no_raise.post(
        JOBS, '{"steps": "' + "x" * 2000 + '"}', content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "request body too large"


def test_too_many_form_fields_is_400_json(api_no_raise, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"f{i}": "x" for i in range(20)}
    response = api_no_raise.post(JOBS, fields, format="multipart")
    assert response.status_code == 400
    assert response.json()["detail"] == "too many form fields"


def test_a_suspicious_request_outside_drf_is_400_json_under_api(client, settings):
    # A Host header not in ALLOWED_HOSTS fails before any view: Django's handler400 answers.
    response = client.get("/api/v1/jobs/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request.", "code": "bad_request"}


def test_an_unknown_api_url_is_a_json_404_that_lists_no_urls(api_no_raise):
    response = api_no_raise.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_an_unknown_url_elsewhere_keeps_djangos_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]
    assert b"api/v1/" not in response.content  # DEBUG is off: no URL patterns listed


def test_a_server_error_under_api_is_json_without_internals(api_no_raise, monkeypatch, settings):
    assert settings.DEBUG is False

    def boom(self, request):
        raise RuntimeError("secret internals /work/photopipe/settings.py")

    monkeypatch.setattr(StepCatalogueView, "get", boom)
    response = api_no_raise.get("/api/v1/steps/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error.", "code": "server_error"}
    assert b"secret internals" not in response.content


def test_debug_defaults_to_off():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_DEBUG"}
    printed = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings; print('DEBUG', settings.DEBUG)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert "DEBUG False" in printed


# What docker compose must give the API (docker-compose.yml): the production settings.
COMPOSE_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "photopipe.example.com",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "1",
    "DATABASE_URL": "postgres://photopipe:photopipe@postgres:5432/photopipe",
    "RABBITMQ_URL": "amqp://guest:guest@rabbitmq:5672/%2F",
    "AWS_S3_ENDPOINT_URL": "http://minio:9000",
    "AWS_STORAGE_BUCKET_NAME": "photopipe",
    "AWS_ACCESS_KEY_ID": "photopipe",
    "AWS_SECRET_ACCESS_KEY": "minio-secret",
}


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_passes_with_the_compose_production_settings():
    done = _check_deploy(**COMPOSE_ENV, DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("change", "warning"),
    [
        pytest.param({"DJANGO_SECRET_KEY": None}, "security.W009", id="default-secret-key"),
        pytest.param({"DJANGO_DEBUG": "1"}, "security.W018", id="debug-on"),
        pytest.param({"DJANGO_SECURE_PROXY_SSL_HEADER": None}, "security.W008",
                     id="no-proxy-no-redirect"),
        pytest.param({"DJANGO_SESSION_COOKIE_SECURE": "0"}, "security.W012", id="plain-cookie"),
    ],
)
def test_check_deploy_fails_when_a_production_setting_is_missing(change, warning):
    env = {**COMPOSE_ENV, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), **change}
    done = _check_deploy(**{key: value for key, value in env.items() if value is not None})
    assert done.returncode != 0 and warning in done.stderr


def test_an_invalid_anonymous_mode_stops_start_up_with_the_reason():
    env = {**os.environ, "PHOTOPIPE_ANONYMOUS": "yes"}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "photopipe.E005" in done.stderr and "PHOTOPIPE_ANONYMOUS='yes'" in done.stderr


def test_the_access_checks_name_a_bad_throttle_rate(settings):
    from jobs.checks import access_settings

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "lots", "anon": None, "upload": "30/min"},
    }
    assert [error.id for error in access_settings()] == ["photopipe.E006"]
