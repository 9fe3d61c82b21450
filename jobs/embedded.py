"""Embedded mode's hand-off: jobs queued by another process reach the running server.

In embedded mode (no RABBITMQ_URL) every process has its own in-process broker. A command run
beside `make run` (``reprocess``, ``resume_jobs``) can change a job in the shared SQLite
database, but a message it sends dies with it. So the server sweeps: every few seconds it
re-sends the current stage of each active job for which its own broker holds no message.

Which jobs the broker holds a message for is counted by a middleware: +1 when a stage message
is enqueued, -1 when it is acked or rejected. Every enqueue of the in-process broker ends in
exactly one of those (a retry is a new enqueue before the old message's ack; a delayed message
is re-enqueued before its delay copy is acked), so the count is exact and a job waiting in a
long queue is never sent twice.
"""

import logging
import threading
from collections import Counter
from datetime import timedelta

import dramatiq
from django.db import close_old_connections

from jobs import stages
from jobs.reaper import jobs_resume_stuck

logger = logging.getLogger(__name__)

#: An active job younger than this is left alone: its own message may be between the commit
#: and the send (transaction.on_commit runs just after the commit).
GRACE = timedelta(seconds=2)


class HeldMessages(dramatiq.Middleware):
    """Counts the stage messages this process's broker holds, per job id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    def _job_id(self, message: dramatiq.Message) -> str | None:
        if message.actor_name in stages.BY_NAME and message.args:
            return str(message.args[0])
        return None

    def _count(self, message: dramatiq.Message, step: int) -> None:
        job_id = self._job_id(message)
        if job_id is None:
            return
        with self._lock:
            self._held[job_id] += step
            if self._held[job_id] <= 0:
                del self._held[job_id]

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message,
                      delay: int | None) -> None:
        self._count(message, +1)

    def after_ack(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        self._count(message, -1)

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        self._count(message, -1)

    def holds(self) -> set[str]:
        with self._lock:
            return set(self._held)


def jobs_resume_orphaned(held: HeldMessages) -> list[str]:
    """Re-send the current stage of active jobs this process holds no message for (queued or
    resumed by another process, or left by a restart)."""
    return jobs_resume_stuck(older_than=GRACE, skip=held.holds())


class Sweeper(threading.Thread):
    """Runs jobs_resume_orphaned every ``every_s`` seconds until stopped."""

    def __init__(self, held: HeldMessages, every_s: float) -> None:
        super().__init__(name="photopipe-embedded-sweep", daemon=True)
        self.held, self.every_s = held, every_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            close_old_connections()
            try:
                jobs_resume_orphaned(self.held)
            except Exception:  # a locked or busy database: the next sweep tries again
                logger.exception("embedded sweep failed; trying again in %g s", self.every_s)
            finally:
                close_old_connections()

    def stop(self) -> None:
        self._stop_event.set()
