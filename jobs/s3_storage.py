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

``checksummed_client``: a second client of the process for PUTs that carry their own SHA-256
(the API's originals: jobs/api/uploads.py hashes them as they arrive), which need not hash the
body again for the signature.
"""

import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from storages.backends import s3

_LOCK = threading.RLock()


class S3Storage(s3.S3Storage):
    """Same settings, keys, behaviour and class name as django-storages' S3Storage."""

    # Each (process id, object): the process's session, first resource, checksummed client.
    _session: tuple[int, boto3.Session] | None = None
    _shared: tuple[int, Any] | None = None
    _checksummed: tuple[int, Any] | None = None

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

    @property
    def checksummed_client(self) -> Any:
        """This process's client for PUTs that carry their own SHA-256 (``ChecksumSHA256``).

        It does not hash the body again for the request signature (UNSIGNED-PAYLOAD, which
        botocore otherwise sends only over HTTPS). Integrity is kept: S3 verifies the body
        against the x-amz-checksum-sha256 header and refuses a mismatch, and that header is
        covered by the signature. (moto's S3 server does not verify it; S3 and MinIO do.)
        """
        with _LOCK:  # one client per process, even when two threads ask at once
            checksummed = self._checksummed
            if checksummed is None or checksummed[0] != os.getpid():
                options = {**(self.client_config.s3 or {}), "payload_signing_enabled": False}
                client = self._create_session().client(
                    "s3", region_name=self.region_name, use_ssl=self.use_ssl,
                    endpoint_url=self.endpoint_url, verify=self.verify,
                    config=self.client_config.merge(Config(s3=options)),
                )
                self._checksummed = checksummed = (os.getpid(), client)
        return checksummed[1]

    def _create_session(self) -> boto3.Session:
        with _LOCK:  # a session is not thread-safe: shared here only while building clients
            session = self._session
            if session is None or session[0] != os.getpid():
                session = self._session = (os.getpid(), super()._create_session())
            return session[1]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for name in ("_session", "_shared", "_checksummed"):
            state.pop(name, None)
        return state
