"""Which stage attempts are alive: the lease that keeps two deliveries of one message from
working on the same stage at once, and tells a dead worker's attempt from a live one.

An attempt (StageRun RUNNING) records the worker that runs it as host:pid:start-time. It is
alive while its process lives and it is in that process's in-flight set, and never longer
than the stage time limit (Dramatiq's TimeLimit ends every attempt by then).
"""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings

from jobs.models import StageRun

ABANDONED = "abandoned: the worker stopped before finishing (killed or lost)"
# Margin past the time limit for the bookkeeping after an attempt is interrupted.
LEASE_MARGIN_MS = 5000


class StageBusy(Exception):
    """Another delivery of this stage is still being worked on; try again after ``delay_ms``."""

    def __init__(self, delay_ms: int) -> None:
        super().__init__(f"stage is being processed elsewhere; retry in {delay_ms} ms")
        self.delay_ms = delay_ms


def worker_id() -> str:
    """host:pid:start-time of this process (per call: worker processes are forked).

    The start time tells a restarted container's new process apart from the dead one that had
    the same pid.
    """
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or ''}"


# StageRun ids this process is working on right now: an attempt recorded under this process's
# id but missing here was orphaned by an error (not by a dead process) and is not alive.
_IN_FLIGHT: set[int] = set()


@contextmanager
def attempt_in_flight(stage_run: StageRun) -> Iterator[None]:
    _IN_FLIGHT.add(stage_run.pk)
    try:
        yield
    finally:
        _IN_FLIGHT.discard(stage_run.pk)


def lease_left_ms(running: StageRun, now: datetime) -> int:
    """How long a RUNNING attempt may still be alive; 0 when it is certainly dead.

    An attempt older than the time limit is dead. A younger one on this host is dead if its
    process is gone (the fast path after a kill -9); on another host it is trusted until its
    time limit runs out.
    """
    limit_ms = settings.PHOTOPIPE["STAGE_TIME_LIMIT_MS"] + LEASE_MARGIN_MS
    left_ms = limit_ms - int((now - running.started_at).total_seconds() * 1000)
    if left_ms <= 0:
        return 0
    if running.worker == worker_id():
        return left_ms if running.pk in _IN_FLIGHT else 0
    host, pid, started = (running.worker.split(":") + ["", ""])[:3]
    if host == socket.gethostname() and pid.isdigit() and _process_start(int(pid)) != started:
        return 0  # that process is gone (or its pid now belongs to another process)
    return left_ms


def _process_start(pid: int) -> str | None:
    """The process's start time (clock ticks after boot), None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]  # fields 3 (state) and 22 (starttime)
