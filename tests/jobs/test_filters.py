"""Querying jobs on what was detected: the facts in their columns, every filter, its 400s,
near-duplicates by perceptual hash, and one file per upload."""

import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jobs import runner
from jobs.facts import color_name, facts_from_detections, phash_to_hex, phash_to_int
from jobs.models import Job

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"


def _job(submit, name: str = "astronaut.png", **columns: Any) -> Job:
    job = submit(name)
    Job.objects.filter(pk=job.pk).update(**columns)
    return Job.objects.get(pk=job.pk)


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_the_detect_stage_stores_the_queryable_facts_in_columns(submit):
    job = submit("astronaut.png")
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    job = Job.objects.get(pk=job.pk)
    assert job.status == Job.Status.COMPLETED
    assert job.face_count == 1 and "face" in job.labels
    assert job.labels == job.detections["labels"]
    assert job.orientation == "square" and job.is_document is False
    assert phash_to_hex(job.phash) == job.detections["phash"]
    assert job.dominant_color == color_name(job.detections["dominant_colors"][0]["hex"])


def test_facts_survive_odd_detections_and_hashes_round_trip():
    assert facts_from_detections(None)["phash"] is None
    assert facts_from_detections({"faces": "?", "orientation": "sideways"})["orientation"] == ""
    for text in ("0000000000000000", "ffffffffffffffff", "8000000000000000", "7fffffffffffffff"):
        value = phash_to_int(text)
        assert -(1 << 63) <= value < (1 << 63) and phash_to_hex(value) == text
    assert [color_name(c) for c in ("#000000", "#ffffff", "#808080", "#e01010", "#1030d0",
                                    "#20b040", "#7a4a20")] == [
        "black", "white", "grey", "red", "blue", "green", "brown"]


def test_label_filter_matches_whole_labels(api, submit):
    face = _job(submit, labels=["face", "person", "square"])
    faces_only = _job(submit, labels=["faces", "landscape"])
    _job(submit, labels=[])
    assert _ids(api.get(JOBS, {"label": "face"})) == {str(face.pk)}
    assert _ids(api.get(JOBS, {"label": "faces"})) == {str(faces_only.pk)}
    assert _ids(api.get(JOBS, {"label": "rocket"})) == set()


def test_face_count_colour_orientation_and_document_filters(api, submit):
    none = _job(submit, face_count=0, dominant_color="white", orientation="landscape",
                is_document=True)
    one = _job(submit, face_count=1, dominant_color="red", orientation="square",
               is_document=False)
    three = _job(submit, face_count=3, dominant_color="red", orientation="portrait",
                 is_document=False)
    undetected = _job(submit)  # detect has not run: no facts, matched by none of these
    assert _ids(api.get(JOBS, {"faces_min": 1})) == {str(one.pk), str(three.pk)}
    assert _ids(api.get(JOBS, {"faces_max": 1})) == {str(none.pk), str(one.pk)}
    assert _ids(api.get(JOBS, {"faces_min": 1, "faces_max": 2})) == {str(one.pk)}
    assert _ids(api.get(JOBS, {"color": "red"})) == {str(one.pk), str(three.pk)}
    assert _ids(api.get(JOBS, {"orientation": "portrait"})) == {str(three.pk)}
    assert _ids(api.get(JOBS, {"document": "true"})) == {str(none.pk)}
    assert _ids(api.get(JOBS, {"document": "false"})) == {str(one.pk), str(three.pk)}
    assert str(undetected.pk) in _ids(api.get(JOBS))


def test_name_search_status_stage_and_date_filters(api, submit):
    rocket = submit("rocket.jpg")
    coffee = submit("coffee.png")
    Job.objects.filter(pk=coffee.pk).update(
        status=Job.Status.FAILED, stage="watermark",
        created_at=timezone.now() - timedelta(days=3),
    )
    assert _ids(api.get(JOBS, {"search": "ROCK"})) == {str(rocket.pk)}
    assert _ids(api.get(JOBS, {"status": "failed"})) == {str(coffee.pk)}
    assert _ids(api.get(JOBS, {"stage": "resize"})) == {str(rocket.pk)}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(api.get(JOBS, {"created_after": since})) == {str(rocket.pk)}
    assert _ids(api.get(JOBS, {"created_before": since})) == {str(coffee.pk)}


def test_owner_filter_is_for_staff_only(client_for, submit, user, other_user, staff):
    mine = submit(owner=user)
    submit(owner=other_user)
    as_staff = client_for(staff)
    assert _ids(as_staff.get(JOBS, {"owner": user.username})) == {str(mine.pk)}
    refused = client_for(user).get(JOBS, {"owner": other_user.username})
    assert refused.status_code == 400
    assert refused.json() == {"owner": ["only staff may filter by owner"]}


@pytest.mark.parametrize(("params", "named"), [
    ({"labels": "face"}, "labels"),
    ({"search": "x", "q": "rocket"}, "q"),
    ({"faces_min": "two"}, "faces_min"),
    ({"faces_max": "-1"}, "faces_max"),
    ({"color": "mauve"}, "color"),
    ({"orientation": "sideways"}, "orientation"),
    ({"document": "maybe"}, "document"),
    ({"status": "done"}, "status"),
    ({"stage": "upload"}, "stage"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"page_size": "0"}, "page_size"),
    ({"page": "abc"}, "page"),
    ({"search": "x" * 201}, "search"),
])
def test_an_unknown_parameter_or_bad_value_is_a_400_naming_it(api, submit, params, named):
    submit()
    response = api.get(JOBS, params)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [named]


def test_routes_other_than_the_list_refuse_parameters_they_do_not_read(api, submit):
    job = submit()
    refused = api.get(f"{JOBS}{job.pk}/", {"status": "failed"})
    assert refused.status_code == 400 and "status" in refused.json()
    assert api.get(f"{JOBS}{job.pk}/", {"format": "json"}).status_code == 200


# --- near-duplicates ----------------------------------------------------------------------

def _hash(bits_set: int) -> int:
    """A signed 64-bit hash with its top ``bits_set`` bits set: that many bits from 0."""
    return phash_to_int(f"{(((1 << bits_set) - 1) << (64 - bits_set)) if bits_set else 0:016x}")


def test_similar_lists_near_duplicates_nearest_first(api, submit, other_user):
    target = _job(submit, phash=_hash(0))
    same = _job(submit, phash=_hash(0))
    near = _job(submit, phash=_hash(3))
    edge = _job(submit, phash=_hash(8))  # the sign bit differs too: mixed signs
    _job(submit, phash=_hash(9))
    _job(submit)  # no hash yet
    theirs = submit(owner=other_user)
    Job.objects.filter(pk=theirs.pk).update(phash=_hash(0))

    response = api.get(f"{JOBS}{target.pk}/similar/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["id"], row["distance"]) for row in rows] == [
        (str(same.pk), 0), (str(near.pk), 3), (str(edge.pk), 8)]
    closer = api.get(f"{JOBS}{target.pk}/similar/", {"distance": 3}).json()["results"]
    assert [row["id"] for row in closer] == [str(same.pk), str(near.pk)]


def test_similar_of_real_copies_of_one_photo(api, submit, image_bytes):
    jobs = [submit("astronaut.png"), submit("astronaut.png"), submit("rocket.jpg")]
    for job in jobs:
        for stage in job.plan:
            runner.run_stage(str(job.pk), stage)
    rows = api.get(f"{JOBS}{jobs[0].pk}/similar/").json()["results"]
    assert [(row["id"], row["distance"]) for row in rows] == [(str(jobs[1].pk), 0)]


def test_similar_refuses_a_bad_distance_and_a_job_not_yet_detected(api, submit):
    job = _job(submit, phash=_hash(0))
    for bad in ("-1", "25", "eight", ""):
        refused = api.get(f"{JOBS}{job.pk}/similar/", {"distance": bad})
        assert refused.status_code == 400 and "distance" in refused.json(), bad
    assert api.get(f"{JOBS}{job.pk}/similar/", {"distance": 2, "x": 1}).status_code == 400
    queued = submit()
    conflict = api.get(f"{JOBS}{queued.pk}/similar/")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "NotDetectedYet"


# --- one file per upload field --------------------------------------------------------------

def _file(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def test_two_file_parts_are_a_400_and_make_no_job(api, image_bytes, stored_originals):
    photo = image_bytes("astronaut.png")
    response = api.post(JOBS, {"file": [_file(photo, "a.png"), _file(photo, "b.png")]},
                        format="multipart")
    assert response.status_code == 400
    assert "exactly one file" in response.json()["file"][0]
    assert Job.objects.count() == 0 and stored_originals() == set()


def _raw_upload(api, filename: bytes, data: bytes):
    boundary = b"photopipe-test-boundary"
    body = (
        b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
        + filename + b"\"\r\nContent-Type: image/png\r\n\r\n" + data + b"\r\n--" + boundary
        + b"--\r\n"
    )
    return api.generic("POST", JOBS, body,
                       content_type=f"multipart/form-data; boundary={boundary.decode()}")


@pytest.mark.parametrize(("filename", "reason"), [
    (b"x" * 5000 + b".png", "file name is 5004 characters long"),
    (b"caf\xe9-\xff\xfe.png", "file name is not valid UTF-8"),
])
def test_a_bad_file_name_is_a_400_about_the_file_name(api, image_bytes, filename, reason):
    response = _raw_upload(api, filename, image_bytes("astronaut.png"))
    assert response.status_code == 400, response.content
    assert reason in response.json()["file"][0]
    assert Job.objects.count() == 0


def test_a_plain_utf8_file_name_is_kept(api, image_bytes):
    response = _raw_upload(api, "été à Zürich.png".encode(), image_bytes("astronaut.png"))
    assert response.status_code == 202
    assert response.json()["original"]["name"] == "été à Zürich.png"
