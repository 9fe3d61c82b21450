"""jobs/s3_storage.py: one boto3 client per process, a resource per thread over it."""

import threading
from typing import Any
from unittest import mock

from storages.backends import s3

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
