"""Batches over HTTP: many files, one batch id, each file its own job or its own error, and
exactly one event and one webhook when the batch finishes."""

import json
from unittest import mock

import pytest
from standardwebhooks.webhooks import Webhook

from jobs import batches
from jobs.batch_actors import deliver_batch_webhook
from jobs.models import Batch, BatchItem, Job
from jobs.webhook_models import WebhookSecret
from tests.helpers import run_all_stages as _run
from tests.helpers import upload_file as _file
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


def _post(client, files, key: str | None = None, **fields):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/v1/batches/", {"file": [_file(data, name) for name, data in files], **fields},
        format="multipart", **headers,
    )


def _sent(stub_broker, actor: str) -> list:
    return [
        message for queue in stub_broker.queues.values() for message in list(queue.queue)
        if json.loads(message)["actor_name"] == actor
    ]


@pytest.fixture
def three(image_bytes):
    return [("astronaut.png", image_bytes("astronaut.png")), ("note.txt", b"not an image"),
            ("rocket.jpg", image_bytes("rocket.jpg"))]


def test_a_batch_with_one_bad_file_makes_the_other_jobs_and_reports_the_bad_one(
    api, three, stored_originals
):
    answer = _post(api, three, steps="grayscale")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert answer.headers["Location"] == body["url"]
    assert body["status"] == "processing"
    assert [item["file"] for item in body["items"]] == ["astronaut.png", "note.txt",
                                                        "rocket.jpg"]
    good, bad, other = body["items"]
    assert good["error"] is None and good["job"]["status"] == "queued"
    assert bad["job"] is None
    assert bad["error"]["code"] == "UnsupportedFormat"
    assert other["job"]["status"] == "queued"
    assert body["counts"] == {"queued": 2, "processing": 0, "completed": 0, "failed": 0,
                              "cancelled": 0, "refused": 1}
    jobs = Job.objects.filter(batch_item__batch_id=body["id"])
    assert jobs.count() == 2 and len(stored_originals()) == 2
    assert all(job.steps == [{"name": "grayscale", "params": {}}] for job in jobs)


def test_a_batch_of_only_bad_files_is_a_400_and_leaves_nothing(api, stored_originals):
    answer = _post(api, [("a.txt", b"text"), ("b.png", b"")])
    assert answer.status_code == 400
    assert answer.json()["file"] == ["a.txt: unsupported format (text)", "b.png: empty file"]
    assert not Batch.objects.exists() and not Job.objects.exists()
    assert not stored_originals()


def test_bad_options_refuse_the_whole_batch(api, three):
    assert _post(api, three, steps="nosuchfilter").status_code == 400
    assert _post(api, [], steps="grayscale").status_code == 400
    assert not Batch.objects.exists()


def test_get_counts_by_status_and_lists_the_jobs_only_for_its_owner(
    api, three, client_for, other_user, django_capture_on_commit_callbacks
):
    body = _post(api, three).json()
    first = body["items"][0]["job"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        _run(first)
    seen = api.get(f"/api/v1/batches/{body['id']}/")
    assert seen.status_code == 200
    assert seen.json()["counts"]["completed"] == 1 and seen.json()["counts"]["queued"] == 1
    assert seen.json()["items"][0]["job"]["status"] == "completed"
    assert seen.json()["status"] == "processing"
    assert client_for(other_user).get(f"/api/v1/batches/{body['id']}/").status_code == 404
    assert api.get(f"/api/v1/batches/{body['id']}/?x=1").status_code == 400


def test_the_batch_finishing_sends_one_event_and_one_webhook(
    api, three, stub_broker, django_capture_on_commit_callbacks, settings
):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "WEBHOOK_ALLOW": ["127.0.0.1/32"]}
    body = _post(api, three, webhook_url="http://127.0.0.1:9/hook").json()
    jobs = [item["job"]["id"] for item in body["items"] if item["job"]]
    stub_broker.flush_all()
    published = []
    with mock.patch("jobs.events.publish_processed", side_effect=published.append):
        with django_capture_on_commit_callbacks(execute=True):
            _run(jobs[0])
        # Each job's own event goes out as usual; the batch's not yet.
        assert [payload["event"] for payload in published] == ["job.completed"]
        assert not _sent(stub_broker, "deliver_batch_webhook")
        with django_capture_on_commit_callbacks(execute=True):
            _run(jobs[1])
        # Checking again (another job's save, a redelivery) announces nothing more.
        assert batches.batch_check_finished(batch_id=body["id"]) is False
    (event,) = [payload for payload in published if payload.get("event") == "batch.finished"]
    assert event["batch_id"] == body["id"]
    assert event["counts"]["completed"] == 2 and event["counts"]["refused"] == 1
    assert {job["job_id"] for job in event["jobs"]} == set(jobs)
    (webhook,) = _sent(stub_broker, "deliver_batch_webhook")
    assert json.loads(webhook)["args"] == ["http://127.0.0.1:9/hook", event]
    # The batch's jobs call no webhook of their own: the batch's is the one call.
    assert not _sent(stub_broker, "deliver_webhook")
    assert api.get(f"/api/v1/batches/{body['id']}/").json()["status"] == "finished"


def test_cancelling_the_last_active_job_finishes_the_batch(
    api, three, django_capture_on_commit_callbacks
):
    body = _post(api, three).json()
    first, second = (item["job"]["id"] for item in body["items"] if item["job"])
    with django_capture_on_commit_callbacks(execute=True):
        _run(first)
    assert Batch.objects.get().finished_at is None
    with (
        mock.patch.object(batches, "announce") as announce,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert api.post(f"/api/v1/jobs/{second}/cancel/").status_code == 200
    assert Batch.objects.get().finished_at is not None
    announce.assert_called_once()


def test_a_second_check_finds_the_batch_finished_and_announces_nothing(
    api, three, django_capture_on_commit_callbacks
):
    body = _post(api, three).json()
    for item in body["items"]:
        if item["job"]:
            Job.objects.filter(pk=item["job"]["id"]).update(status=Job.Status.FAILED)
    with (
        mock.patch.object(batches, "announce") as announce,
        django_capture_on_commit_callbacks(execute=True),
    ):
        results = [batches.batch_check_finished(batch_id=body["id"]) for _ in range(2)]
    assert results == [True, False]
    announce.assert_called_once()


def test_deleting_a_job_keeps_its_item(api, three):
    body = _post(api, three).json()
    job_id = body["items"][0]["job"]["id"]
    assert api.delete(f"/api/v1/jobs/{job_id}/").status_code == 204
    item = BatchItem.objects.get(position=0)
    assert item.job is None and item.filename == "astronaut.png"
    assert api.get(f"/api/v1/batches/{body['id']}/").json()["items"][0]["job"] is None


def test_an_idempotent_batch_retry_creates_nothing(api, three):
    first = _post(api, three, key="batch-1")
    again = _post(api, three, key="batch-1")
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Batch.objects.count() == 1 and Job.objects.count() == 2
    assert _post(api, three[:1], key="batch-1").status_code == 422


def test_the_batch_webhook_is_signed_with_the_owners_secret(api, user, three, settings):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "WEBHOOK_ALLOW": ["127.0.0.1/32"]}
    body = _post(api, three).json()
    payload = {"event": "batch.finished", "batch_id": body["id"], "counts": {}, "jobs": []}
    with Receiver() as receiver:
        deliver_batch_webhook.fn(receiver.url(), payload)
        (hit,) = receiver.received
    secret = WebhookSecret.for_user(user).secret
    assert Webhook(secret).verify(hit.body, hit.headers) == payload


def test_anonymous_batches_in_by_id_mode(settings, anon, three):
    settings.PHOTOPIPE_ANONYMOUS = "by-id"
    body = _post(anon, three).json()
    assert anon.get(f"/api/v1/batches/{body['id']}/").status_code == 200
    settings.PHOTOPIPE_ANONYMOUS = "off"
    assert anon.get(f"/api/v1/batches/{body['id']}/").status_code == 401
