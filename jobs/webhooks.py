"""Webhook delivery: a JSON POST signed with HMAC-SHA256 over the exact body."""

import hashlib
import hmac
import json
from typing import Any

import requests
from django.conf import settings

SIGNATURE_HEADER = "X-Photopipe-Signature"
TIMEOUT_S = 10


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(url: str, payload: dict[str, Any]) -> None:
    """POST the event; any network error or non-2xx raises, so the actor retries it."""
    body = json.dumps(payload, sort_keys=True).encode()
    response = requests.post(
        url, data=body, timeout=TIMEOUT_S,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, settings.PHOTOPIPE["WEBHOOK_SECRET"]),
        },
    )
    response.raise_for_status()
