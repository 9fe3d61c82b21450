"""The upload handler (jobs/api/uploads.py): hashed as it arrives, in memory, bounded."""

import hashlib
from typing import Any
from unittest import mock

import pytest
from django.core.files import uploadedfile
from django.core.files.storage import default_storage

from jobs import dedupe
from jobs.api import parsers
from jobs.api.uploads import HashedUpload, ImageUploadHandler
from jobs.models import Job
from tests.helpers import upload_file

pytestmark = pytest.mark.django_db
JOBS = "/api/v1/jobs/"


def _receive(handler: ImageUploadHandler, data: bytes, chunk: int) -> HashedUpload:
    handler.new_file("file", "a.jpg", "image/jpeg", len(data))
    for start in range(0, len(data), chunk):
        assert handler.receive_data_chunk(data[start:start + chunk], start) is None
    return handler.file_complete(len(data))


@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 20])
def test_handler_keeps_the_bytes_and_their_sha256_whatever_the_chunks(chunk: int) -> None:
    data = bytes(range(256)) * 40
    upload = _receive(ImageUploadHandler(limit=len(data)), data, chunk)
    assert upload.read() == data
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert (upload.name, upload.size, upload.content_type) == ("a.jpg", len(data), "image/jpeg")


def test_handler_keeps_one_byte_past_the_limit_and_no_hash() -> None:
    data = b"x" * 5000
    upload = _receive(ImageUploadHandler(limit=1000), data, 300)
    assert upload.read() == data[:1001]  # enough for the probe to say "too large"
    assert upload.sha256 is None  # not the hash of what was sent: never used
    assert upload.size == 5000


def test_each_file_part_gets_its_own_buffer_and_hash() -> None:
    handler = ImageUploadHandler(limit=100)
    first = _receive(handler, b"a" * 50, 16)
    second = _receive(handler, b"b" * 60, 16)
    assert first.read() == b"a" * 50 and second.read() == b"b" * 60
    assert second.sha256 == hashlib.sha256(b"b" * 60).hexdigest()


def test_an_upload_is_hashed_once_as_it_arrives(api: Any, image_bytes: Any) -> None:
    data = image_bytes("astronaut.png")
    # The submit must use the handler's hash, not hash the bytes a second time.
    with mock.patch.object(dedupe, "sha256_of", side_effect=AssertionError("hashed again")):
        response = api.post(JOBS, {"file": upload_file(data)}, format="multipart")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.original_sha256 == hashlib.sha256(data).hexdigest()
    assert response.json()["original"]["sha256"] == job.original_sha256
    with default_storage.open(job.original_key, "rb") as stored:
        assert stored.read() == data


def test_a_large_upload_is_never_spooled_to_a_temporary_file(
    api: Any, image_bytes: Any, settings: Any
) -> None:
    # Django spools a body over FILE_UPLOAD_MAX_MEMORY_SIZE to disk, to read it back at once.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    data = image_bytes("astronaut.png")
    with mock.patch.object(
        uploadedfile.TemporaryUploadedFile, "__init__", side_effect=AssertionError("spooled")
    ):
        response = api.post(JOBS, {"file": upload_file(data)}, format="multipart")
    assert response.status_code == 202, response.content
    assert Job.objects.get().original_bytes == len(data)


def test_too_large_an_upload_is_refused_without_keeping_it_or_storing_anything(
    api: Any, image_bytes: Any, settings: Any, stored_originals: Any
) -> None:
    # Over the limit by less than the form allowance, so the Content-Length check lets it
    # through and the file itself is refused.
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "MAX_UPLOAD_BYTES": 20_000}
    data = image_bytes("astronaut.png")[:40_000]
    kept: list[int] = []
    complete = ImageUploadHandler.file_complete

    def spy(handler: ImageUploadHandler, size: int) -> HashedUpload:
        upload = complete(handler, size)
        kept.append(len(upload.file.getvalue()))
        return upload

    with mock.patch.object(ImageUploadHandler, "file_complete", spy):
        response = api.post(JOBS, {"file": upload_file(data)}, format="multipart")
    assert response.status_code == 413, response.content
    assert "too large" in response.json()["detail"]
    assert kept == [20_001]
    assert Job.objects.count() == 0
    assert stored_originals() == set()


def test_the_compatibility_upload_route_uses_the_handler_too(
    api: Any, image_bytes: Any
) -> None:
    data = image_bytes("astronaut.png")
    with mock.patch.object(dedupe, "sha256_of", side_effect=AssertionError("hashed again")):
        response = api.post("/upload", {"file": upload_file(data)}, format="multipart")
    assert response.status_code == 202, response.content
    assert Job.objects.get().original_sha256 == hashlib.sha256(data).hexdigest()


class _CountingStream:
    def __init__(self, data: bytes) -> None:
        self._data, self._at, self.sizes = data, 0, []

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        end = len(self._data) if size < 0 else self._at + size
        chunk, self._at = self._data[self._at:end], min(end, len(self._data))
        return chunk


def test_the_body_is_read_in_large_blocks_and_handed_out_as_asked() -> None:
    data = bytes(range(256)) * 12_000  # ~3 MB
    stream = _CountingStream(data)
    recording = parsers._Recording(stream, block=1 << 20)
    pieces = []
    while piece := recording.read(65_536):
        assert len(piece) <= 65_536
        pieces.append(piece)
    assert b"".join(pieces) == data
    assert stream.sizes == [1 << 20] * 4  # three blocks and the empty read at the end
    assert list(recording.recent) == [pieces[-1], b""]


def test_reading_the_rest_returns_the_block_and_the_stream_together() -> None:
    stream = _CountingStream(b"abcdefghij")
    recording = parsers._Recording(stream, block=4)
    assert recording.read(3) == b"abc"
    assert recording.read() == b"defghij"
    assert recording.read(3) == b""


def test_an_upload_through_the_api_reads_the_body_in_large_blocks(
    api: Any, image_bytes: Any
) -> None:
    sizes: list[int] = []
    init = parsers._Recording.__init__

    class Counted:
        def __init__(self, stream: Any) -> None:
            self._stream = stream

        def read(self, size: int = -1) -> bytes:
            sizes.append(size)
            return self._stream.read(size)

    def counting(recording: Any, stream: Any, *args: Any) -> None:
        init(recording, Counted(stream), *args)

    with mock.patch.object(parsers._Recording, "__init__", counting):
        response = api.post(
            JOBS, {"file": upload_file(image_bytes("astronaut.png"))}, format="multipart"
        )
    assert response.status_code == 202, response.content
    assert sizes and min(sizes) >= parsers.READ_BLOCK  # never the parser's 64 KiB
