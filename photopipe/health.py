"""Liveness and readiness: ``/healthz``, ``/readyz`` and ``manage.py readycheck``.

``/healthz`` says only that the process serves requests (no database, no network), so a
container orchestrator restarts a wedged process but not one whose dependencies are away.
``/readyz`` checks what a request or a stage needs: the database, the broker and the storage,
each with short timeouts so a probe answers within seconds even when a dependency hangs.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.config import Config
from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from jobs import events

logger = logging.getLogger(__name__)

TIMEOUT_S = 3
# A key nobody writes: HEAD on it answers 404 (reachable, credentials accepted) or fails.
PROBE_KEY = "health/probe"
# The probe's S3 client: one try with short timeouts, instead of the stages' client (30 s
# read timeout, 3 tries) that would keep a probe, and a gunicorn worker, busy for 90 s.
_PROBE_S3_CONFIG = Config(
    connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S,
    retries={"total_max_attempts": 1, "mode": "standard"},
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    detail: str = ""  # what was reached, or the error

    def as_dict(self) -> dict[str, object]:
        # Over HTTP a failure shows only the error's type: its text carries host names and
        # ports. The full text goes to the log and to `manage.py readycheck`.
        shown = self.detail if self.ok else self.detail.split(":", 1)[0]
        return {"status": "ok" if self.ok else "failing", "ms": round(self.ms, 1),
                "detail": shown}


def check_database() -> str:
    # A connection kept from an earlier request may have died with a database restart;
    # is_usable() notices and a fresh connection is tried, as the next request would.
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def check_broker() -> str:
    if not settings.RABBITMQ_URL:
        return "embedded (in-process broker)"
    # Any node of a cluster ("url1;url2") answering is ready.
    events.connect(timeout_s=TIMEOUT_S).close()
    return "rabbitmq"


_probe_storages: dict[str, Storage] = {}


def _probe_storage() -> Storage:
    """The default storage as configured, with the probe's short S3 timeouts (cached)."""
    config = settings.STORAGES["default"]
    key = repr(config)
    if key not in _probe_storages:
        storage = storages.create_storage(config)
        if hasattr(storage, "client_config"):  # S3Storage: its client is built lazily
            storage.client_config = storage.client_config.merge(_PROBE_S3_CONFIG)
        _probe_storages.clear()
        _probe_storages[key] = storage
    return _probe_storages[key]


def check_storage() -> str:
    storage = _probe_storage()
    storage.exists(PROBE_KEY)  # raises unless the store answers (404 counts as an answer)
    return type(storage).__name__


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks() -> list[Check]:
    results = []
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as error:  # any failure means "not ready"; say why
            detail, ok = f"{type(error).__name__}: {error}".strip(), False
            logger.warning("readiness: %s failing: %s", name, detail)
        results.append(Check(name, ok, (time.monotonic() - started) * 1000, detail))
    return results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    failing = [check.name for check in checks if not check.ok]
    body = {
        "status": "unavailable" if failing else "ok",
        "failing": failing,
        "checks": {check.name: check.as_dict() for check in checks},
    }
    return JsonResponse(body, status=503 if failing else 200)
