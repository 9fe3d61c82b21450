"""The HTTP API: uploads answer 202 at once; bad uploads get a 4xx reason and leave nothing."""

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image

from jobs import services
from jobs.models import Job

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + \
        chunk(b"IEND", b"")


def _upload(api, data: bytes, name: str = "photo.jpg", **fields):
    upload = io.BytesIO(data)
    upload.name = name  # multipart encoding takes the file name from here
    return api.post(JOBS, {"file": upload, **fields}, format="multipart")


def test_upload_answers_202_with_job_and_links_and_sends_first_stage_on_commit(
    api, image_bytes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _upload(api, image_bytes("astronaut.png"), "astronaut.png")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["stage"] == "resize"
    assert body["original"] == {
        "name": "astronaut.png", "format": "PNG", "width": 512, "height": 512,
        "bytes": len(image_bytes("astronaut.png")),
        "sha256": hashlib.sha256(image_bytes("astronaut.png")).hexdigest(),
    }
    assert body["links"]["self"].endswith(f"/api/v1/jobs/{body['id']}/")
    assert body["links"]["result"] is None
    assert response["Location"] == body["url"]
    assert len(callbacks) == 1  # exactly one message, sent only after the commit
    assert Job.objects.get(pk=body["id"]).status == Job.Status.QUEUED


BAD_UPLOADS = [
    pytest.param(b"", "empty.jpg", 400, "empty", id="zero-bytes"),
    pytest.param(b"just some text\n" * 20, "notes.jpg", 415, "unsupported format", id="text"),
    pytest.param(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "doc.jpg", 415, "PDF", id="pdf"),
    pytest.param(b"PK\x03\x04" + b"\0" * 100, "archive.jpg", 415, "ZIP", id="zip"),
    pytest.param(_png_header_only(30000, 30000), "huge.png", 413, "30000x30000", id="pixel-bomb"),
]


@pytest.mark.parametrize(("data", "name", "status", "reason"), BAD_UPLOADS)
def test_bad_upload_gets_4xx_with_reason_and_leaves_no_job_or_file(
    api, stored_originals, data, name, status, reason
):
    before = stored_originals()
    response = _upload(api, data, name)
    assert response.status_code == status, response.content
    assert reason in str(response.json())
    assert Job.objects.count() == 0
    assert stored_originals() == before


def test_truncated_jpeg_is_refused(api, image_bytes, stored_originals):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(image_bytes("astronaut.png"))).convert("RGB").save(buffer, "JPEG")
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    response = _upload(api, truncated, "cut.jpg")
    assert response.status_code == 400
    assert "corrupt image" in response.json()["detail"]
    assert Job.objects.count() == 0


def test_upload_over_the_byte_limit_is_413(api, image_bytes, settings):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "MAX_UPLOAD_BYTES": 10_000}
    response = _upload(api, image_bytes("astronaut.png"), "astronaut.png")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert Job.objects.count() == 0


def test_missing_file_field_is_400(api):
    response = api.post(JOBS, {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_invalid_steps_are_refused_with_the_reason(api, image_bytes):
    response = _upload(api, image_bytes("chelsea.png"), "cat.png", steps="no_such_filter")
    assert response.status_code == 400
    assert "no_such_filter" in str(response.json()["steps"])
    assert Job.objects.count() == 0


def test_steps_are_accepted_as_names_or_json(api, image_bytes):
    by_names = _upload(api, image_bytes("chelsea.png"), "cat.png", steps="grayscale,sharpen")
    as_json = _upload(
        api, image_bytes("chelsea.png"), "cat.png",
        steps='[{"name": "blur", "params": {"radius": 2}}]',
    )
    assert by_names.status_code == as_json.status_code == 202
    assert [step["name"] for step in by_names.json()["steps"]] == ["grayscale", "sharpen"]
    assert as_json.json()["steps"][0]["params"]["radius"] == 2


def test_list_is_paginated_newest_first_and_filterable_by_status(api, submit):
    first, second, third = submit(), submit("chelsea.png"), submit("coffee.png")
    services.job_cancel(job_id=second.pk)
    listing = api.get(JOBS).json()
    assert listing["count"] == 3
    assert [job["id"] for job in listing["results"]] == [
        str(third.pk), str(second.pk), str(first.pk)
    ]
    cancelled = api.get(JOBS, {"status": "cancelled"}).json()
    assert [job["id"] for job in cancelled["results"]] == [str(second.pk)]


def test_list_pages(api, submit):
    older, _newer = submit(), submit()
    page = api.get(JOBS, {"page": 2, "page_size": 1}).json()
    assert page["count"] == 2 and page["next"] is None
    assert [job["id"] for job in page["results"]] == [str(older.pk)]


def test_cancel_and_reprocess_actions(api, submit):
    job = submit()
    assert api.post(f"{JOBS}{job.pk}/reprocess/").status_code == 409  # still queued
    cancelled = api.post(f"{JOBS}{job.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"{JOBS}{job.pk}/cancel/").status_code == 409
    again = api.post(f"{JOBS}{job.pk}/reprocess/")
    assert again.status_code == 202
    assert again.json()["status"] == "queued" and again.json()["run"] == 2


def test_result_is_404_until_completed_and_original_downloads(api, submit, image_bytes):
    job = submit()
    assert api.get(f"{JOBS}{job.pk}/result/").status_code == 404
    original = api.get(f"{JOBS}{job.pk}/original/")
    assert original.status_code == 200
    assert original["Content-Type"] == "image/png"
    assert b"".join(original.streaming_content) == image_bytes("astronaut.png")


def test_downloads_honour_image_accept_headers(api, submit):
    job = submit()
    for accept in ("image/*", "image/png", "*/*"):
        response = api.get(f"{JOBS}{job.pk}/original/", HTTP_ACCEPT=accept)
        assert response.status_code == 200, accept
    missing = api.get(f"{JOBS}{job.pk}/result/", HTTP_ACCEPT="image/*")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert "queued" in missing.json()["detail"]


def test_oversized_body_is_refused_from_content_length_before_parsing(api, settings):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "MAX_UPLOAD_BYTES": 1000}
    response = api.post(
        JOBS, data=b"x" * 10, content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(10_000_000),
    )
    assert response.status_code == 413
    assert "file too large" in response.json()["detail"]


def test_unknown_job_is_404(api):
    assert api.get(f"{JOBS}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_browsable_api_offers_an_upload_form(api, submit):
    submit()
    page = api.get(JOBS, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="file"' in html and 'name="file"' in html
    assert 'enctype="multipart/form-data"' in html


def test_step_catalogue_and_openapi_schema(api):
    catalogue = api.get("/api/v1/steps/").json()
    names = {entry["name"] for entry in catalogue}
    assert {"blur", "grayscale", "sharpen", "rotate"} <= names
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/jobs/" in schema.content
