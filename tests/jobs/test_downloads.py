"""Signed, expiring download links of local files: usable without credentials, refused when
tampered with, expired, or when the job is gone."""

import time
from unittest import mock

import pytest
from django.core import signing
from rest_framework.test import APIClient

from jobs import runner
from jobs.models import Job

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"


def _links(api, job: Job) -> dict:
    return api.get(f"{JOBS}{job.pk}/").json()["links"]


def test_original_and_result_links_download_without_credentials(
    api, submit, media_root, image_bytes
):
    job = submit()
    links = _links(api, job)
    assert links["original"].startswith("http://testserver/files/")
    assert links["result"] is None  # no result until completed

    anonymous = APIClient()  # no session, no token: what an <img> tag sends
    original = anonymous.get(links["original"])
    assert original.status_code == 200 and original["Content-Type"] == "image/png"
    assert b"".join(original.streaming_content) == image_bytes("astronaut.png")
    assert 'filename="astronaut.png"' in original["Content-Disposition"]

    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    result = anonymous.get(_links(api, job)["result"])
    assert result.status_code == 200 and result["Content-Type"] == "image/jpeg"
    assert b"".join(result.streaming_content)[:3] == b"\xff\xd8\xff"


def test_list_entries_carry_signed_links_too(api, submit, media_root):
    submit()
    (entry,) = api.get(JOBS).json()["results"]
    assert APIClient().get(entry["links"]["original"]).status_code == 200


def _tampered(url: str) -> str:
    """Change one character of the signed payload (the job id and key)."""
    token = url.rstrip("/").rsplit("/", 1)[1]
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    return url.replace(token, flipped)


def test_a_tampered_link_is_refused(api, submit, media_root):
    job = submit()
    response = APIClient().get(_tampered(_links(api, job)["original"]))
    assert response.status_code == 403
    assert response.json()["code"] == "bad_signature"


def test_a_link_for_another_object_cannot_be_forged_from_a_valid_one(api, submit, media_root):
    first, second = submit(), submit("chelsea.png")
    a, b = _links(api, first)["original"], _links(api, second)["original"]
    payload_a, rest_b = a.split("/files/")[1].split(":", 1)[0], b.split("/files/")[1]
    mixed = b.replace(rest_b, payload_a + ":" + rest_b.split(":", 1)[1])
    assert APIClient().get(mixed).status_code == 403


def test_an_expired_link_is_refused(api, submit, media_root, settings):
    job = submit()
    ttl = settings.PHOTOPIPE["DOWNLOAD_URL_TTL_S"]
    signed_at = time.time() - ttl - 5  # the link was issued longer ago than it lives
    issued = signing.b62_encode(int(signed_at))
    with mock.patch.object(signing.TimestampSigner, "timestamp", return_value=issued):
        stale = _links(api, job)["original"]
    response = APIClient().get(stale)
    assert response.status_code == 410
    assert response.json()["code"] == "link_expired"
    fresh = _links(api, job)["original"]
    assert APIClient().get(fresh).status_code == 200


def test_a_link_dies_with_its_job(api, submit, media_root):
    job = submit()
    link = _links(api, job)["original"]
    assert api.delete(f"{JOBS}{job.pk}/").status_code == 204
    response = APIClient().get(link)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_result_link_stops_working_when_the_job_is_reprocessed(api, submit, media_root):
    job = submit()
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    link = _links(api, job)["result"]
    api.post(f"{JOBS}{job.pk}/reprocess/", {}, format="json")
    assert APIClient().get(link).status_code == 404  # no result until it completes again


def test_authenticated_download_endpoints_still_stream(api, submit, media_root, image_bytes):
    job = submit()
    response = api.get(f"{JOBS}{job.pk}/original/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image_bytes("astronaut.png")
