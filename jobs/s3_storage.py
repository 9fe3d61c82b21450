"""django-storages' S3 storage with one boto3 client per process instead of one per thread.

django-storages builds a new ``boto3.Session`` and resource (with its own client) for every
thread's first S3 call, and a new session loads and parses botocore's S3 service and resource
models from scratch: measured here 110-260 ms of CPU per thread, ~5 ms even from a shared
session (docs/PERFORMANCE.md, "The API's CPU per upload"). gunicorn's gthread workers and
Dramatiq's worker threads each paid that on their first upload or stage.

Here each storage builds its session, resource and client once per process, and a thread gets
its own resource object over that one client. That is how boto3 says to share: resources (and
sessions) are not thread-safe, low-level clients are. django-storages already shares the
storage's ``bucket`` resource between threads. The process id is checked when a thread
builds its resource, so a child forked after the client was built gets a client of its own.
"""

import os
import threading
from typing import Any

from storages.backends import s3

_LOCK = threading.RLock()


class S3Storage(s3.S3Storage):
    """Same settings, keys, behaviour and class name as django-storages' S3Storage."""

    _shared: tuple[int, Any] | None = None  # (process id, the process's first resource)

    @property
    def connection(self) -> Any:
        connection = getattr(self._connections, "connection", None)
        if connection is None:
            with _LOCK:
                shared = self._shared
                if shared is None or shared[0] != os.getpid():
                    self._connections.connection = None  # built anew by django-storages
                    connection = super().connection
                    self._shared = (os.getpid(), connection)
                else:
                    # A resource of this thread's own over the process's (thread-safe) client.
                    base = shared[1]
                    connection = type(base)(client=base.meta.client)
                    self._connections.connection = connection
        return connection

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_shared", None)
        return state
