"""gunicorn settings of the API (`make serve`, docker/start-api): ``--config
python:photopipe.gunicorn_conf``; command-line flags still override these."""

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Pay the worker's one-time costs before its first request, then freeze the heap.

    Without this the first requests on each worker import the views and DRF's lazily loaded
    classes and load botocore's S3 models (jobs/s3_storage.py), so the first uploads after a
    start or a worker restart cost several times a normal one. No network I/O here: a worker
    must boot while a service is down (/readyz reports that).

    gc.freeze() then moves everything loaded so far (Django, DRF, boto3, Pillow: ~170,000
    objects) out of the collector's reach; a full collection otherwise walks all of it every
    few dozen requests (measured ~100 ms each, ~2.5 ms per upload).
    """
    from photopipe.warmup import warm_up

    warm_up()
    gc.freeze()
