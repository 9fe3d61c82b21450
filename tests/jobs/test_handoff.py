"""A stage hands the image the next stage reads over inside its message (jobs/handoff.py):
the next stage then reads nothing from storage, and reads storage whenever the hand-off is
not exactly the object it would have read."""

from collections.abc import Callable
from typing import Any

import dramatiq
import pytest

from jobs import handoff, runner, storage
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)  # messages are sent on commit


@pytest.fixture
def storage_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys every stage reads from storage, in order."""
    keys: list[str] = []
    real = storage.read_bytes

    def counting(key: str) -> bytes:
        keys.append(key)
        return real(key)

    monkeypatch.setattr(storage, "read_bytes", counting)
    return keys


def follow_messages(job: Job, stub_broker: Any,
                    tamper: Callable[[dict[str, Any]], None] = lambda kwargs: None) -> Job:
    """Run the job by its own messages, as a worker would: each stage's message, decoded,
    is the call; ``tamper`` may change a message's keyword arguments on the way."""
    while True:
        job.refresh_from_db()
        if not job.is_active:
            return job
        (body,) = stub_broker.queues[job.stage].queue
        stub_broker.queues[job.stage].queue.clear()
        message = dramatiq.Message.decode(body)
        assert message.args == (str(job.pk),)  # the image travels as a keyword only
        kwargs = dict(message.kwargs)
        tamper(kwargs)
        runner.run_stage(*message.args, job.stage, **kwargs)


def test_later_stages_read_their_input_from_the_message(
    submit: Any, stub_broker: Any, storage_reads: list[str]
) -> None:
    job = follow_messages(submit(), stub_broker)
    assert job.status == Job.Status.COMPLETED
    assert job.plan == ["resize", "watermark", "detect"]
    # Only resize read storage (the original); watermark and detect got the resized image in
    # their messages (detect reads the resized image, which watermark had read).
    assert storage_reads == [job.original_key]
    assert job.detections["faces"], "detection ran on the handed-over image"


def test_the_hand_off_changes_nothing_but_the_reads(
    submit: Any, stub_broker: Any, storage_reads: list[str], settings: Any
) -> None:
    handed = follow_messages(submit(), stub_broker)
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "HANDOFF_MAX_BYTES": 0}
    storage_reads.clear()
    read = follow_messages(submit(), stub_broker)
    assert len(storage_reads) == 3  # off: every stage reads storage
    assert storage.read_bytes(handed.result_key) == storage.read_bytes(read.result_key)
    assert handed.detections == read.detections


def test_images_over_the_limit_are_not_sent(
    submit: Any, stub_broker: Any, storage_reads: list[str], settings: Any
) -> None:
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "HANDOFF_MAX_BYTES": 1000}
    sent: list[dict[str, Any]] = []
    job = follow_messages(submit(), stub_broker, tamper=sent.append)
    assert job.status == Job.Status.COMPLETED
    assert sent == [{}, {}, {}]
    assert len(storage_reads) == 3


@pytest.mark.parametrize("damage", ["older run", "other key", "bit flip", "not base64"])
def test_a_hand_off_that_is_not_the_expected_object_is_ignored(
    damage: str, submit: Any, stub_broker: Any, storage_reads: list[str]
) -> None:
    def tamper(kwargs: dict[str, Any]) -> None:
        if "handoff" not in kwargs:
            return
        sent = kwargs["handoff"]
        if damage == "older run":
            sent["run"] -= 1
        elif damage == "other key":
            sent["key"] = sent["key"].replace("resize", "filters")
        elif damage == "bit flip":
            sent["data"] = ("A" if sent["data"][100] != "A" else "B").join(
                (sent["data"][:100], sent["data"][101:])
            )
        else:
            sent["data"] = "%%%"

    job = follow_messages(submit(), stub_broker, tamper=tamper)
    assert job.status == Job.Status.COMPLETED
    resized = job.stage_runs.get(stage="resize").output_key
    assert storage_reads == [job.original_key, resized, resized]


def test_pack_and_unpack() -> None:
    packed = handoff.pack("jobs/x/resize.jpg", 2, b"image bytes")
    assert packed is not None
    assert handoff.unpack(packed, key="jobs/x/resize.jpg", run=2) == b"image bytes"
    assert handoff.unpack(packed, key="jobs/x/resize.jpg", run=1) is None
    assert handoff.unpack(None, key="jobs/x/resize.jpg", run=2) is None
    assert handoff.unpack({"key": "jobs/x/resize.jpg", "run": 2}, key="jobs/x/resize.jpg",
                          run=2) is None
    assert handoff.pack("jobs/x/resize.jpg", 2, b"") is None
