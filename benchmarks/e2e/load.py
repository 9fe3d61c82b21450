"""The client side: uploads through the API, completion read from the jobs table.

Completion is read from the database (PostgreSQL or the embedded SQLite file), never by
polling the API, so watching costs the API nothing; a job's end is its ``finished_at``, stamped
by the worker, on the same clock as the client's send times (one machine).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from urllib3 import encode_multipart_formdata

TERMINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class Upload:
    """One request's outcome: when it was sent and answered (epoch seconds), the job id."""

    sent: float
    answered: float
    status: int
    job_id: str

    @property
    def latency_ms(self) -> float:
        return (self.answered - self.sent) * 1000


class Body:
    """A multipart body encoded once, sent many times (the client's CPU stays out of it)."""

    def __init__(self, name: str, data: bytes) -> None:
        self.size = len(data)
        self.payload, self.content_type = encode_multipart_formdata(
            {"file": (name, data, "image/jpeg")}
        )


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.headers = {"Authorization": f"Token {token}"}
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def upload(self, body: Body) -> Upload:
        sent = time.time()
        response = self._session().post(
            f"{self.base}/api/v1/jobs/", data=body.payload,
            headers={**self.headers, "Content-Type": body.content_type}, timeout=120,
        )
        answered = time.time()
        job_id = response.json().get("id", "") if response.status_code == 202 else ""
        return Upload(sent, answered, response.status_code, job_id)

    def delete(self, job_id: str) -> int:
        return self._session().delete(
            f"{self.base}/api/v1/jobs/{job_id}/", headers=self.headers, timeout=60
        ).status_code

    def uploads(self, bodies: Sequence[Body], clients: int) -> list[Upload]:
        """Every body uploaded once, ``clients`` at a time, back to back."""
        with ThreadPoolExecutor(clients) as pool:
            return list(pool.map(self.upload, bodies))

    def simultaneous(self, bodies: Sequence[Body]) -> list[Upload]:
        """One thread per body, released together by a barrier."""
        barrier = threading.Barrier(len(bodies))

        def one(body: Body) -> Upload:
            barrier.wait()
            return self.upload(body)

        with ThreadPoolExecutor(len(bodies)) as pool:
            return list(pool.map(one, bodies))


class Jobs:
    """Reads job states straight from the jobs table."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self._sqlite = database_url.startswith("sqlite:")

    def _connect(self):  # noqa: ANN202 - a DB-API connection of either driver
        if self._sqlite:
            path = self.url.split("sqlite:///", 1)[1]
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            return connection
        import psycopg2

        connection = psycopg2.connect(self.url)
        connection.autocommit = True
        return connection

    def states(self, ids: Sequence[str]) -> dict[str, tuple[str, float | None]]:
        """{job id: (status, finished_at as epoch seconds or None)}"""
        connection = self._connect()
        try:
            cursor = connection.cursor()
            if self._sqlite:
                keys = [uuid.UUID(job_id).hex for job_id in ids]
                marks = ",".join("?" * len(keys))
                cursor.execute(
                    f"SELECT id, status, finished_at FROM jobs_job WHERE id IN ({marks})", keys
                )
            else:
                cursor.execute(
                    "SELECT id::text, status, finished_at FROM jobs_job "
                    "WHERE id = ANY(%s::uuid[])", (list(ids),)
                )
            rows = cursor.fetchall()
        finally:
            connection.close()
        return {
            str(uuid.UUID(str(key))): (status, _epoch(finished)) for key, status, finished in rows
        }

    def wait(self, ids: Sequence[str], timeout_s: float = 300.0, poll_s: float = 0.02
             ) -> dict[str, tuple[str, float | None]]:
        """Until every job is completed, failed or cancelled (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = self.states(ids)
            if len(states) == len(ids) and all(s in TERMINAL for s, _ in states.values()):
                return states
            if time.monotonic() > deadline:
                waiting = sum(1 for s, _ in states.values() if s not in TERMINAL)
                raise TimeoutError(f"{waiting} of {len(ids)} jobs unfinished after {timeout_s} s")
            time.sleep(poll_s)


def _epoch(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: "2026-01-01 12:00:00.123456" in UTC
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]
