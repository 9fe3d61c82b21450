"""Object keys and byte I/O on the configured storage (local files or S3)."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def original_key(job_id: object, extension: str) -> str:
    return f"originals/{job_id}.{extension}"


def stage_output_key(job_id: object, stage: str, extension: str) -> str:
    """Deterministic per job and stage, so a redelivered message rewrites the same object."""
    return f"jobs/{job_id}/{stage}.{extension}"


def read_bytes(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def write_bytes(key: str, data: bytes) -> str:
    saved = default_storage.save(key, ContentFile(data))
    if saved != key:  # a storage that renames instead of overwriting would break idempotency
        raise RuntimeError(f"storage saved {key!r} as {saved!r}; enable overwriting")
    return saved


def delete_quietly(key: str) -> None:
    if key:
        default_storage.delete(key)
