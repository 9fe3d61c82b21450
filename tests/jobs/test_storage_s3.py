"""jobs.storage on S3 (moto in-process): one request per read and per write, and a missing
object is FileNotFoundError as with local files."""

from collections.abc import Iterator

import boto3
import pytest
from django.core.files.storage import default_storage
from moto import mock_aws

from jobs import storage

BUCKET = "photopipe-unit"


@pytest.fixture
def s3(settings) -> Iterator[list[str]]:
    """S3 as the default storage; yields the operations sent to it."""
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = {**settings.STORAGES, "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            # endpoint_url None: AWS's own endpoint, which mock_aws intercepts (`make test`
            # exports the real S3 endpoint's URL, which this in-process S3 must not use).
            "OPTIONS": {"bucket_name": BUCKET, "region_name": "us-east-1",
                        "access_key": "testing", "secret_key": "testing", "endpoint_url": None},
        }}
        sent: list[str] = []
        default_storage.connection.meta.client.meta.events.register(
            "before-call.s3", lambda model, **_: sent.append(model.name)
        )
        yield sent


def test_write_then_read_is_one_put_and_one_get(s3: list[str]) -> None:
    assert storage.write_bytes("jobs/x/resize.jpg", b"\xff\xd8 pixels") == "jobs/x/resize.jpg"
    assert storage.read_bytes("jobs/x/resize.jpg") == b"\xff\xd8 pixels"
    assert s3 == ["PutObject", "GetObject"]  # no HEAD, no managed multipart transfer
    head = boto3.client("s3", region_name="us-east-1").head_object(
        Bucket=BUCKET, Key="jobs/x/resize.jpg"
    )
    assert head["ContentType"] == "image/jpeg"


def test_rewriting_a_key_overwrites_it(s3: list[str]) -> None:
    storage.write_bytes("jobs/x/result.png", b"one")
    storage.write_bytes("jobs/x/result.png", b"two")
    assert storage.read_bytes("jobs/x/result.png") == b"two"


def test_a_missing_object_is_file_not_found(s3: list[str]) -> None:
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("originals/gone.jpg")
