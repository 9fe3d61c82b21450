"""Receiving an image upload: hashed as it arrives, kept in memory, never more than the limit.

Django's default handlers keep a request body of up to FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) in
memory and spool a larger one to a temporary file, 64 KiB at a time; the serializer then read
the file back into bytes and the submit hashed them (SHA-256, for dedupe and the job's
``original.sha256``). For an image upload every byte ends in memory anyway (the probe and the
S3 PUT need them), so this handler keeps the file part in memory from the start and hashes each
chunk as it arrives (one pass, no read-back, no temporary file). The body itself is read from
the server in large blocks (parsers._Recording).

Bounded: a file part is kept up to the upload limit plus one byte, which is all the probe needs
to refuse it as too large (413), the same answer as before; anything beyond is counted, not
kept. The whole body is bounded too: the views refuse a Content-Length over the limit before
parsing (views.refuse_oversized_body), and Django parses no body without one.
"""

import hashlib
import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from rest_framework.request import Request


class HashedUpload(InMemoryUploadedFile):
    """An uploaded file held in memory with the SHA-256 of its bytes (None when it was cut at
    the limit: such a file is refused, never stored)."""

    def __init__(self, data: bytes, sha256: str | None, **kwargs: Any) -> None:
        # BytesIO over bytes shares them, and reading it whole returns them: no copy.
        super().__init__(file=io.BytesIO(data), **kwargs)
        self.sha256 = sha256


class ImageUploadHandler(FileUploadHandler):
    """Keeps each file part in memory, at most ``limit`` + 1 bytes, hashing it as it arrives."""

    def __init__(self, request: HttpRequest | None = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = settings.PHOTOPIPE["MAX_UPLOAD_BYTES"] if limit is None else limit

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._chunks: list[bytes] = []
        self._kept = 0
        self._hash = hashlib.sha256()
        self._cut = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        room = self.limit + 1 - self._kept
        if len(raw_data) > room:
            raw_data, self._cut = raw_data[:max(room, 0)], True
        if raw_data:
            self._chunks.append(raw_data)  # the parser's own bytes: kept, not copied
            self._kept += len(raw_data)
            self._hash.update(raw_data)
        return None  # consumed: no later handler sees the chunk

    def file_complete(self, file_size: int) -> HashedUpload:
        # One copy into the file's bytes (none when the file came in one chunk).
        data, self._chunks = b"".join(self._chunks), []
        return HashedUpload(
            data, None if self._cut else self._hash.hexdigest(),
            field_name=self.field_name, name=self.file_name, content_type=self.content_type,
            size=file_size, charset=self.charset, content_type_extra=self.content_type_extra,
        )


def receive_in_memory(request: Request) -> None:
    """Parse this request's files with ImageUploadHandler. Call before anything reads the body
    (authentication's CSRF check parses it), and after refusing an oversized Content-Length."""
    request._request.upload_handlers = [ImageUploadHandler(request._request)]


def upload_sha256(upload: Any) -> str | None:
    """The SHA-256 the handler computed for ``upload`` as it arrived (None: not known)."""
    return getattr(upload, "sha256", None)
