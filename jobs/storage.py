"""Object keys and byte I/O on the configured storage (local files or S3)."""

import base64
import contextlib
import logging
import mimetypes
import posixpath
from dataclasses import dataclass

from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

logger = logging.getLogger(__name__)


def original_key(job_id: object, extension: str) -> str:
    return f"originals/{job_id}.{extension}"


def job_prefix(job_id: object) -> str:
    """Where every object a job's stages write lives (intermediates and the result)."""
    return f"jobs/{job_id}"


def stage_output_key(job_id: object, stage: str, extension: str) -> str:
    """Deterministic per job and stage, so a redelivered message rewrites the same object."""
    return f"{job_prefix(job_id)}/{stage}.{extension}"


def exists(key: str) -> bool:
    return default_storage.exists(key)


def read_bytes(key: str) -> bytes:
    if isinstance(default_storage, S3Storage):
        return _s3_read(key)
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def write_bytes(key: str, data: bytes, *, sha256: str | None = None) -> str:
    """Store ``data`` under ``key``. ``sha256``: the hex SHA-256 of ``data`` if known; on S3 it
    goes with the PUT, which S3 checks (and the body is not hashed again for the signature)."""
    if isinstance(default_storage, S3Storage):
        return _s3_write(key, data, sha256)
    saved = default_storage.save(key, ContentFile(data))
    if saved != key:  # a storage that renames instead of overwriting would break idempotency
        raise RuntimeError(f"storage saved {key!r} as {saved!r}; enable overwriting")
    return saved


# On S3 one GET and one PUT through the storage's own (pooled) boto3 client, one per process
# (jobs/s3_storage.py).
# django-storages' open() sends a HEAD before the GET, and both it and save() go through
# s3transfer's managed transfers (a thread pool per call): measured, that doubled the requests
# and cost the workers and the API more CPU than the S3 calls themselves (docs/PERFORMANCE.md,
# "Changes"). Objects here are a few MB at most, well under the multipart threshold.
def _s3_read(key: str) -> bytes:
    name = default_storage._normalize_name(clean_name(key))
    client = default_storage.connection.meta.client
    try:
        response = client.get_object(Bucket=default_storage.bucket_name, Key=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(f"File does not exist: {key}") from None
        raise
    with contextlib.closing(response["Body"]) as body:
        return body.read()


def _s3_write(key: str, data: bytes, sha256: str | None = None) -> str:
    name = default_storage._normalize_name(clean_name(key))
    params = default_storage.get_object_parameters(name)
    params.setdefault(
        "ContentType", mimetypes.guess_type(name)[0] or default_storage.default_content_type
    )
    client = default_storage.connection.meta.client
    if sha256:
        params["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
        # jobs/s3_storage.py: no second hash of the body for the signature (django-storages'
        # own class, as some tests configure, still signs it: correct, only slower).
        client = getattr(default_storage, "checksummed_client", client)
    client.put_object(
        Bucket=default_storage.bucket_name, Key=name, Body=data, **params
    )
    return clean_name(key)


def delete_quietly(key: str) -> None:
    if key:
        default_storage.delete(key)


@dataclass(frozen=True)
class Removed:
    """What a deletion took away (or, in a dry run, would take away)."""

    objects: int = 0
    bytes: int = 0

    def __add__(self, other: "Removed") -> "Removed":
        return Removed(self.objects + other.objects, self.bytes + other.bytes)


def delete_object(key: str, *, dry_run: bool = False) -> Removed:
    """One object by its key; nothing if it is not there."""
    if not key:
        return Removed()
    try:
        size = default_storage.size(key)
    except FileNotFoundError:
        return Removed()
    if not dry_run:
        default_storage.delete(key)
    return Removed(1, size)


def delete_tree(prefix: str, *, dry_run: bool = False) -> Removed:
    """Every object under ``prefix/``, found by listing, not by guessing keys.

    Both backends list by prefix (S3: one paginated LIST per level; local: a directory scan),
    so objects whose names we did not predict (an older output format, a stray rewrite) go
    too. Local directories left empty are removed as well.
    """
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return Removed()
    removed = Removed()
    for name in files:
        removed += delete_object(posixpath.join(prefix, name), dry_run=dry_run)
    for name in directories:
        removed += delete_tree(posixpath.join(prefix, name), dry_run=dry_run)
    if not dry_run and isinstance(default_storage, FileSystemStorage):
        # rmdir (S3 has no directories). OSError: a file landed meanwhile; whoever wrote it
        # removes it and the directory (services.stage_complete).
        with contextlib.suppress(OSError):
            default_storage.delete(prefix)
    return removed


def delete_intermediates(job_id: object) -> Removed:
    """Remove every stage output of a job (intermediates and result), keeping the original.

    Called when a job is cancelled or fails, inside the service's transaction: a storage
    outage must not undo the cancel or the failure, so errors are logged, not raised (what
    stays behind goes when the job is deleted or purged).
    """
    try:
        return delete_tree(job_prefix(job_id))
    except Exception:
        logger.exception("job %s: could not delete its stage outputs", job_id)
        return Removed()
