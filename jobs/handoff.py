"""Hand-off of an image from one stage to the next inside the next stage's message.

Every stage still writes its output to storage (the admin shows it, reprocessing reuses it, a
stage on another machine can read it). But the stage that wrote an image, or read it, has its
bytes in hand when it sends the next stage's message: putting them in the message saves the
next stage a GET and the S3 endpoint a request (docs/PERFORMANCE.md, "Cuts, third round").

The bytes travel only when they are small (``PHOTOPIPE_HANDOFF_MAX_BYTES``, 0 turns hand-offs
off: RabbitMQ keeps whole messages, in memory while a queue is short) and are used only when
they are the object the stage would have read: the same storage key, written in the same run
of the job. Anything else (no hand-off, an older run's message, a corrupt payload) falls back
to storage, so a hand-off can make a stage cheaper but never change what it reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, TypedDict

from django.conf import settings


class Handoff(TypedDict):
    """The JSON-safe form a message carries (Dramatiq encodes messages as JSON)."""

    key: str
    run: int
    sha256: str
    data: str  # base64


def pack(key: str, run: int, data: bytes | None) -> Handoff | None:
    """The hand-off of ``data`` (stored at ``key`` in ``run``), or None when it should not
    travel: no bytes, or more than the configured limit."""
    limit = settings.PHOTOPIPE["HANDOFF_MAX_BYTES"]
    if not key or not data or len(data) > limit:
        return None
    return Handoff(key=key, run=run, sha256=hashlib.sha256(data).hexdigest(),
                   data=base64.b64encode(data).decode("ascii"))


def unpack(handoff: Any, *, key: str, run: int) -> bytes | None:
    """The bytes of ``key`` from ``run`` if the hand-off carries exactly them, else None."""
    if not isinstance(handoff, dict) or handoff.get("key") != key or handoff.get("run") != run:
        return None
    try:
        data = base64.b64decode(handoff["data"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        return None
    # The digest catches a payload damaged on the way (or edited in a dead-letter queue).
    if hashlib.sha256(data).hexdigest() != handoff.get("sha256"):
        return None
    return data
