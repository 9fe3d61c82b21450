"""jobs/s3_storage.py: one boto3 client per process, a resource per thread over it."""

import base64
import hashlib
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from django.core.files.storage import default_storage
from moto import mock_aws
from storages.backends import s3

from jobs import storage
from jobs.s3_storage import S3Storage


def _storage() -> S3Storage:
    # Building sessions, resources and presigned URLs is local work: no endpoint is contacted.
    return S3Storage(
        bucket_name="photopipe", access_key="key", secret_key="secret",
        region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
    )


def _in_threads(count: int, work: Any) -> list[Any]:
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        results[index] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_threads_get_their_own_resource_over_one_client_from_one_session() -> None:
    storage = _storage()
    with mock.patch.object(
        s3.S3Storage, "_create_session", autospec=True, side_effect=s3.S3Storage._create_session
    ) as sessions:
        resources = _in_threads(4, lambda: storage.connection)
        again = _in_threads(1, lambda: (storage.connection, storage.connection))[0]
    assert sessions.call_count == 1  # django-storages alone: one per thread (4 + 1)
    assert len({id(resource) for resource in resources}) == 4
    assert {id(resource.meta.client) for resource in resources} == {id(resources[0].meta.client)}
    assert again[0] is again[1]  # a thread keeps its resource
    assert again[0].meta.client is resources[0].meta.client


def test_presigned_urls_from_any_thread_are_signed_alike() -> None:
    storage = _storage()
    urls = _in_threads(3, lambda: storage.url("originals/a.jpg", expire=60))
    for url in urls:
        assert url.startswith("http://127.0.0.1:9/photopipe/originals/a.jpg?")
        assert "Signature=" in url


def test_a_pickled_storage_builds_its_own_client() -> None:
    import pickle

    storage = _storage()
    first = storage.connection
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.connection.meta.client is not first.meta.client


BUCKET = "photopipe-unit"


@pytest.fixture
def moto_s3(settings: Any) -> Iterator[dict[str, dict[str, str]]]:
    """This storage class on moto (in-process) as the default storage; yields the headers of
    the last PutObject each client sent, by client ("checksummed" or "plain")."""
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = {**settings.STORAGES, "default": {
            "BACKEND": "jobs.s3_storage.S3Storage",
            # endpoint_url None: AWS's own endpoint, which mock_aws intercepts.
            "OPTIONS": {"bucket_name": BUCKET, "region_name": "us-east-1",
                        "access_key": "testing", "secret_key": "testing", "endpoint_url": None,
                        # As photopipe/settings.py: no checksum unless asked for.
                        "client_config": Config(
                            signature_version="s3v4",
                            request_checksum_calculation="when_required",
                            response_checksum_validation="when_required",
                        )},
        }}
        sent: dict[str, dict[str, str]] = {}
        clients = {"checksummed": default_storage.checksummed_client,
                   "plain": default_storage.bucket.meta.client}
        for name, client in clients.items():
            client.meta.events.register(
                "before-send.s3.PutObject",
                lambda request, name=name, **_: sent.__setitem__(name, {
                    key.lower(): value.decode() if isinstance(value, bytes) else value
                    for key, value in request.headers.items()
                }),
            )
        yield sent


def test_an_original_with_its_sha256_is_put_with_a_signed_checksum_not_hashed_again(
    moto_s3: dict[str, dict[str, str]]
) -> None:
    data = b"\xff\xd8 an original" * 1000
    digest = hashlib.sha256(data)
    storage.write_bytes("originals/a.jpg", data, sha256=digest.hexdigest())
    headers = moto_s3.pop("checksummed")
    assert moto_s3 == {}  # not through the plain client
    assert headers["x-amz-checksum-sha256"] == base64.b64encode(digest.digest()).decode()
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "x-amz-checksum-sha256" in signed  # the checksum cannot be changed in transit
    assert storage.read_bytes("originals/a.jpg") == data


def test_a_write_without_a_sha256_still_signs_its_payload(
    moto_s3: dict[str, dict[str, str]]
) -> None:
    data = b"an intermediate"
    storage.write_bytes("jobs/x/resize.jpg", data)
    headers = moto_s3.pop("plain")
    assert headers["x-amz-content-sha256"] == hashlib.sha256(data).hexdigest()
    assert "x-amz-checksum-sha256" not in headers
    assert storage.read_bytes("jobs/x/resize.jpg") == data
