"""photopipe/gunicorn_conf.py and photopipe/warmup.py: a web worker's one-time costs, paid
before its first request, without contacting any service."""

import gc
import mimetypes
import socket
from typing import Any
from unittest import mock

from django.core.files.storage import default_storage
from django.urls import clear_url_caches, get_resolver

from photopipe import gunicorn_conf, warmup


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_warm_up_builds_the_s3_clients_and_indexes_the_urls_offline(settings: Any) -> None:
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "jobs.s3_storage.S3Storage",
        # Nothing listens there: building clients must not need the endpoint.
        "OPTIONS": {"bucket_name": "b", "region_name": "us-east-1", "access_key": "k",
                    "secret_key": "s", "endpoint_url": f"http://127.0.0.1:{_closed_port()}"},
    }}
    clear_url_caches()
    assert not get_resolver()._populated
    with mock.patch.object(mimetypes, "init", wraps=mimetypes.init) as mime_tables:
        warmup.warm_up()
    assert default_storage._shared is not None  # the process's client, for every thread
    assert default_storage._checksummed is not None  # the originals' PUT client
    assert get_resolver()._populated  # the first reverse() indexed every pattern
    mime_tables.assert_called_once()


def test_a_worker_is_warmed_up_then_its_heap_frozen() -> None:
    gc.unfreeze()
    try:
        with mock.patch.object(warmup, "warm_up") as warm_up:
            gunicorn_conf.post_worker_init(worker=None)
        warm_up.assert_called_once_with()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
