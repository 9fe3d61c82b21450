"""Idempotent uploads: the ``Idempotency-Key`` header (issue 9).

A client that retries an upload (a timeout, a dropped connection) with the same key and the
same request gets the first answer again, status and body, and nothing new is created; the
same key with a different request is refused (422). Keys belong to a user and are forgotten
PHOTOPIPE_IDEMPOTENCY_TTL_H hours after first use. Only successful answers are kept: a
refused upload created nothing, so its retry simply runs again.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.api.uploads import upload_sha256
from jobs.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class KeyRefused(ValueError):
    """The header is unusable: empty, too long, not printable ASCII, or sent anonymously."""


class KeyReused(Exception):
    """The key was used before with a different request (HTTP 422)."""


def check_key(key: str, user: Any) -> None:
    if not getattr(user, "is_authenticated", False):
        # Anonymous clients share one identity (or one address behind a NAT): another client
        # guessing or reusing a key would be handed this client's job. Keys need an account.
        raise KeyRefused(f"{HEADER} needs an account; send a token")
    if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise KeyRefused(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")


def fingerprint(fields: Any) -> str:
    """sha256 over every form field, in name order: a file by its name and the sha256 of its
    bytes, any other field by its values (repeated fields in the order sent)."""
    digest = hashlib.sha256()
    for name in sorted(fields.keys()):
        values = fields.getlist(name) if hasattr(fields, "getlist") else [fields[name]]
        digest.update(f"{len(name)}:{name}:{len(values)}".encode())
        for value in values:
            digest.update(_value_digest(value).encode())
    return digest.hexdigest()


def _value_digest(value: Any) -> str:
    if isinstance(value, UploadedFile):
        return f"file:{value.name}:{upload_sha256(value) or _file_sha256(value)};"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"{len(text)}:{text};"


def _file_sha256(upload: UploadedFile) -> str:
    content = hashlib.sha256()
    for chunk in upload.chunks():
        content.update(chunk)
    upload.seek(0)
    return content.hexdigest()


def answered(
    *, user: Any, key: str, print_: str, create: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any], bool]:
    """(status, body, replayed): the stored answer for this key, or ``create()``'s, stored.

    The key is inserted first and ``create()`` runs in the same transaction: a concurrent
    duplicate's insert waits on the unique (owner, key) index until that commits, then fails
    and replays the committed answer, so two requests with one key never create two jobs.
    When ``create()`` raises, the key goes with the rollback. Raises KeyReused.
    """
    _forget_expired(user)
    stored = _stored(user, key, print_)
    if stored is not None:
        return stored.status_code, stored.response, True
    try:
        with transaction.atomic():
            # The key first: it takes the unique slot before any work is done.
            record = IdempotencyKey.objects.create(
                owner=user, key=key, fingerprint=print_, status_code=0, response={}
            )
            code, body = create()
            record.status_code = code
            record.response = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
            record.save(update_fields=["status_code", "response"])
    except IntegrityError:
        stored = _stored(user, key, print_)
        if stored is None:
            raise
        return stored.status_code, stored.response, True
    return code, body, False


def _stored(user: Any, key: str, print_: str) -> IdempotencyKey | None:
    stored = IdempotencyKey.objects.filter(owner=user, key=key, created_at__gte=_cutoff()).first()
    if stored is not None and stored.fingerprint != print_:
        raise KeyReused(f"this {HEADER} was used with a different request")
    return stored


def _forget_expired(user: Any) -> None:
    IdempotencyKey.objects.filter(owner=user, created_at__lt=_cutoff()).delete()


def _cutoff() -> Any:
    return timezone.now() - timedelta(hours=settings.PHOTOPIPE["IDEMPOTENCY_TTL_H"])
