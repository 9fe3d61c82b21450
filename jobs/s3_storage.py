"""django-storages' S3 storage with one boto3 session per process instead of one per thread.

django-storages builds a new ``boto3.Session`` for every thread's first S3 call, and a new
session loads and parses botocore's S3 service and resource models from scratch: measured
here 110-260 ms of CPU per thread (docs/PERFORMANCE.md, "The API's CPU per upload"). gunicorn's
gthread workers and Dramatiq's worker threads each paid that on their first upload or stage.
From a shared session a thread's own resource costs about 5 ms (the parsed models are cached in
the session's loader).

Thread safety: each thread still gets its own resource and client (as django-storages does;
resources are not thread-safe). Only their creation touches the shared session, and boto3
sessions are not safe to use from several threads at once, so creation is serialised by a
lock; a created client is independent of the session's mutable state. The session is keyed
by process id, so a forked child (gunicorn workers after a preloaded master) builds its own.
"""

import os
import threading
from typing import Any

import boto3
from storages.backends import s3

_LOCK = threading.RLock()
_SESSIONS: dict[tuple[Any, ...], boto3.Session] = {}


class S3Storage(s3.S3Storage):
    """Same settings, keys, behaviour and class name as django-storages' S3Storage."""

    @property
    def connection(self) -> Any:
        if getattr(self._connections, "connection", None) is None:
            with _LOCK:  # the shared session builds one resource at a time
                return super().connection
        return self._connections.connection

    @property
    def unsigned_connection(self) -> Any:
        if getattr(self._unsigned_connections, "connection", None) is None:
            with _LOCK:
                return super().unsigned_connection
        return self._unsigned_connections.connection

    def _create_session(self) -> boto3.Session:
        key = (os.getpid(), self.session_profile, self.access_key, self.secret_key,
               self.security_token)
        with _LOCK:
            session = _SESSIONS.get(key)
            if session is None:
                session = _SESSIONS[key] = super()._create_session()
        return session
