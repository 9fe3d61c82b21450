"""Limits over HTTP: request throttles (429 + Retry-After), per-user quotas, admin lockout."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from jobs.models import Job

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"


@pytest.fixture
def rates(monkeypatch):
    """Set throttle rates for one test. DRF binds the rates to the class when it is imported,
    so override_settings alone would not reach them."""

    def set_rates(**scopes: str | None) -> None:
        base = {"user": None, "anon": None, "upload": None}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**base, **scopes})

    return set_rates


def _upload(client, data: bytes, **extra):
    upload = io.BytesIO(data)
    upload.name = "astronaut.png"
    return client.post(JOBS, {"file": upload}, format="multipart", **extra)


def _assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_a_user_over_the_rate_gets_429_with_retry_after_others_do_not(
    rates, api, client_for, other_user
):
    rates(user="3/min")
    assert [api.get(JOBS).status_code for _ in range(3)] == [200, 200, 200]
    _assert_throttled(api.get(JOBS))
    assert client_for(other_user).get(JOBS).status_code == 200  # counted per user


def test_anonymous_clients_are_throttled_per_address_and_xff_does_not_dodge_it(
    rates, settings, anon, submit
):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    rates(anon="2/min")
    job = submit(owner=None)
    url = f"{JOBS}{job.pk}/"
    assert [anon.get(url).status_code for _ in range(2)] == [200, 200]
    _assert_throttled(anon.get(url))
    # A forged X-Forwarded-For is not a new client (PHOTOPIPE_PROXY_COUNT=0)...
    _assert_throttled(anon.get(url, HTTP_X_FORWARDED_FOR="203.0.113.9"))
    # ...another address is.
    assert anon.get(url, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_behind_a_declared_proxy_the_forwarded_address_is_the_client(
    rates, settings, anon, submit
):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    rates(anon="1/min")
    url = f"{JOBS}{submit(owner=None).pk}/"
    assert anon.get(url, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 200
    _assert_throttled(anon.get(url, HTTP_X_FORWARDED_FOR="203.0.113.9"))
    assert anon.get(url, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 200


def test_uploads_have_their_own_tighter_rate(rates, api, image_bytes):
    rates(user="100/min", upload="2/min")
    data = image_bytes("astronaut.png")
    assert [_upload(api, data).status_code for _ in range(2)] == [202, 202]
    _assert_throttled(_upload(api, data))
    assert Job.objects.count() == 2
    assert api.get(JOBS).status_code == 200  # reading is not an upload


def test_daily_job_quota_answers_429_with_retry_after_and_stores_nothing(
    settings, api, user, submit, image_bytes, stored_originals
):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "QUOTA_JOBS_PER_DAY": 2}
    yesterday = submit(owner=user)
    Job.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert _upload(api, image_bytes("astronaut.png")).status_code == 202
    oldest = Job.objects.exclude(pk=yesterday.pk).get()
    Job.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timedelta(hours=23))
    assert _upload(api, image_bytes("astronaut.png")).status_code == 202
    before = stored_originals()
    refused = _upload(api, image_bytes("astronaut.png"))
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "quota_exceeded" and body["quota"] == "jobs_per_day"
    assert body["limit"] == 2 and body["used"] == 2
    # Room comes back when the job made 23 hours ago leaves the 24-hour window.
    assert 3500 <= int(refused["Retry-After"]) <= 3700
    assert Job.objects.count() == 3 and stored_originals() == before


def test_stored_bytes_quota_answers_403_naming_the_quota(settings, api, image_bytes):
    size = len(image_bytes("astronaut.png"))
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "QUOTA_BYTES": size * 3 // 2}
    assert _upload(api, image_bytes("astronaut.png")).status_code == 202
    refused = _upload(api, image_bytes("astronaut.png"))
    assert refused.status_code == 403
    body = refused.json()
    assert body["quota"] == "stored_bytes" and body["used"] == size
    assert body["limit"] == size * 3 // 2 and "quota exceeded" in body["detail"]
    assert Job.objects.count() == 1


def test_quotas_count_per_user_and_spare_staff(settings, client_for, staff, other_user,
                                               submit, user, image_bytes):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "QUOTA_JOBS_PER_DAY": 1}
    submit(owner=user)
    assert _upload(client_for(other_user), image_bytes("astronaut.png")).status_code == 202
    assert _upload(client_for(staff), image_bytes("astronaut.png")).status_code == 202
    assert _upload(client_for(staff), image_bytes("astronaut.png")).status_code == 202


def test_zero_means_no_quota(settings, api, image_bytes):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "QUOTA_JOBS_PER_DAY": 0, "QUOTA_BYTES": 0}
    assert [_upload(api, image_bytes("astronaut.png")).status_code for _ in range(3)] == [
        202, 202, 202,
    ]


ADMIN_LOGIN = "/admin/login/?next=/admin/"


def _admin_login(client, password: str):
    return client.post(ADMIN_LOGIN, {"username": "root", "password": password})


def test_admin_login_locks_out_after_wrong_passwords_right_one_included(
    client, django_user_model, settings, client_for
):
    from axes.models import AccessAttempt

    root = django_user_model.objects.create_superuser("root", password="the-right-password")
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert _admin_login(client, "guess").status_code == 200  # the form again, with an error
    assert _admin_login(client, "guess").status_code == 429  # the fifth: locked out
    refused = _admin_login(client, "the-right-password")
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    # The API's token authentication is not axes's business: it keeps working.
    assert client_for(root).get(JOBS).status_code == 200
    # After the cool-off the right password works again.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME * 2)
    assert _admin_login(client, "the-right-password").status_code == 302
    assert client.session["_auth_user_id"] == str(root.pk)
