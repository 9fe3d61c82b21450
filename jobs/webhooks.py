"""Webhook delivery: one Standard Webhooks-signed POST, to a checked address, under one deadline.

- The host is resolved once, every address is checked (jobs/webhook_targets.py), and the
  connection goes to a checked address; the peer of the connected socket is checked again, so
  a name that resolves elsewhere by now (DNS rebinding) reaches nothing new. TLS still
  verifies the certificate against the URL's host name (SNI included), and the Host header
  carries the name.
- Redirects are never followed: a 3xx is a failed delivery. No userinfo is ever sent.
- One deadline covers resolving, connecting, TLS, sending and reading the answer: a watchdog
  shuts the socket down when it passes, so an endpoint that drips one byte at a time costs
  the deadline, not minutes. Only the status line and headers are read.
"""

import contextlib
import hashlib
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from standardwebhooks.webhooks import Webhook

from jobs.webhook_log import delivery_record
from jobs.webhook_models import WebhookSecret
from jobs.webhook_targets import (
    AllowList,
    IPAddress,
    ResolutionFailed,
    Target,
    WebhookRefused,
    check_address,
    check_url,
    parse_url,
    resolve,
)

__all__ = ["DeliveryFailed", "WebhookRefused", "allow_list", "check_upload_url", "deliver"]

logger = logging.getLogger(__name__)

USER_AGENT = "Photopipe-Webhooks/1"


class DeliveryFailed(Exception):
    """The receiver did not take the event this time (network, deadline, non-2xx): retry."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code  # the receiver's answer, when there was one


def allow_list() -> AllowList:
    return AllowList.parse(settings.PHOTOPIPE["WEBHOOK_ALLOW"])


def deadline_s() -> float:
    return float(settings.PHOTOPIPE["WEBHOOK_DEADLINE_S"])


def check_upload_url(url: str) -> None:
    """Raise WebhookRefused (with the reason) for a URL that must not be accepted."""
    check_url(url, allow_list(), resolve_timeout=min(deadline_s(), 5.0))


def deliver_job_event(url: str, payload: dict[str, Any]) -> None:
    """The webhooks actor's work: sign with the job owner's secret and deliver.

    A refused address is final (logged, not retried); other failures raise so the actor
    retries them.
    """
    job_id = payload.get("job_id", "?")
    started = time.monotonic()

    def log(outcome: str, **fields: Any) -> None:
        elapsed_ms = int((time.monotonic() - started) * 1000)
        delivery_record(url=url, payload=payload, outcome=outcome, duration_ms=elapsed_ms,
                        **fields)

    try:
        secret = WebhookSecret.for_job(job_id)
        if secret is None:
            raise WebhookRefused("the job has no owner whose secret could sign it")
        status = deliver(url, payload, secret=secret)
    except WebhookRefused as refusal:
        logger.warning("webhook of job %s refused, not retried: %s", job_id, refusal)
        log("refused", error=str(refusal))
        return
    except DeliveryFailed as failure:
        log("failed", status_code=failure.status_code, error=str(failure))
        raise
    log("delivered", status_code=status)
    logger.info("webhook of job %s delivered", job_id)


def deliver(
    url: str, payload: dict[str, Any], *, secret: str, allow: AllowList | None = None,
    deadline: float | None = None,
) -> int:
    """POST the event and return the receiver's 2xx status.

    Raises WebhookRefused (permanent) or DeliveryFailed (try again later).
    """
    allow = allow_list() if allow is None else allow
    budget = deadline_s() if deadline is None else deadline
    ends_at = time.monotonic() + budget
    target = parse_url(url)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Connection": "close",
        **signature_headers(body, secret=secret),
    }
    try:
        addresses = resolve(target.host, target.port, timeout=_left(ends_at))
    except ResolutionFailed as error:
        raise DeliveryFailed(str(error)) from None
    for address in addresses:
        check_address(address, allow, host=target.host)
    with _Watchdog(ends_at) as watchdog:
        try:
            status = _post(target, addresses, headers, body, allow, ends_at, watchdog)
        except (OSError, http.client.HTTPException) as error:
            # Every socket timeout is set to the time left, so a timeout is the deadline too.
            if watchdog.fired or isinstance(error, TimeoutError):
                raise DeliveryFailed(f"no answer within the {budget:g} s deadline") from None
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
    if watchdog.fired:
        raise DeliveryFailed(f"no answer within the {budget:g} s deadline")
    if 300 <= status < 400:
        raise DeliveryFailed(f"the receiver answered {status}: redirects are not followed",
                             status)
    if not 200 <= status < 300:
        raise DeliveryFailed(f"the receiver answered {status}", status)
    return status


def signature_headers(body: bytes, *, secret: str, msg_id: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers. The id is derived from the body, so a retry of the same event
    carries the same id (receivers deduplicate on it) and two events never share one."""
    msg_id = msg_id or "msg_" + hashlib.sha256(body).hexdigest()[:32]
    now = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
    }


def _post(
    target: Target, addresses: list[IPAddress], headers: dict[str, str], body: bytes,
    allow: AllowList, ends_at: float, watchdog: "_Watchdog",
) -> int:
    sock = _connect(addresses, target.port, ends_at)
    watchdog.watch(sock)
    try:
        peer = sock.getpeername()[0]
        # The address actually connected to, whatever resolved or routed it there.
        check_address(_ip(peer), allow, host=target.host)
        if target.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
        sock.settimeout(_left(ends_at))
        connection = http.client.HTTPConnection(target.host, target.port)
        connection.sock = sock  # already connected: http.client never dials on its own
        connection.request("POST", target.path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        sock.close()


def _connect(addresses: list[IPAddress], port: int, ends_at: float) -> socket.socket:
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout=_left(ends_at))
        except OSError as failure:
            error = failure
    raise error


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _left(ends_at: float) -> float:
    left = ends_at - time.monotonic()
    if left <= 0:
        raise TimeoutError("the delivery deadline has passed")
    return left


class _Watchdog:
    """Shuts the watched socket down at the deadline, waking any read or write blocked on it.

    Per-operation timeouts alone cannot bound a delivery: a receiver that sends one byte
    every few seconds satisfies each of them forever.
    """

    def __init__(self, ends_at: float) -> None:
        self.fired = False
        self._ends_at = ends_at
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def watch(self, sock: socket.socket) -> None:
        # A duplicate descriptor: shutdown acts on the connection, and stays valid even after
        # TLS wrapping takes over the original socket object.
        self._sock = sock.dup()
        self._timer = threading.Timer(max(self._ends_at - time.monotonic(), 0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._sock is None:
                return
            self.fired = True
            with contextlib.suppress(OSError):  # the peer may have closed it already
                self._sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> "_Watchdog":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
