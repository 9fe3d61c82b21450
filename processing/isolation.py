"""Filter steps that can be stopped: heavy plans run in a child process that is killed when the
job is cancelled or its deadline passes.

Why a process: OpenCV's non-local means or Pillow's median filter run for seconds inside one C
call. Dramatiq's TimeLimit (an exception raised asynchronously in the worker thread) and a
cancel flag are only seen when Python code runs again, so the thread keeps burning CPU until
the call returns. A process can be killed whatever it is doing.

How: a pebble ProcessPool per worker process, started on first use and reused (a warm child
costs a pixel copy each way, not a process start). Dramatiq workers are multi-threaded, and
fork() from a threaded process can deadlock the child (a lock held by another thread at the
fork stays held forever), so the children come from the "forkserver" start method: a clean,
single-threaded server process forks them, with the filter modules already imported. A killed
child is replaced by the pool. The caller waits in short polls, checking `should_stop` and the
deadline between them; when either fires, the future is cancelled and pebble terminates the
child (SIGTERM, which the task makes fatal at once rather than a Python-level handler that
could not run inside a C call).

Only plans that need it are isolated (run_filters decides by the plan's cost): cheap steps
run in the caller's thread with the same checks between steps.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pebble import ProcessExpired, ProcessPool
from PIL import Image

from .filters import Step, apply_steps, validate_steps
from .limits import DEFAULT_LIMITS, Limits
from .loader import open_image
from .plan import plan_steps
from .probe import probe

# Children per worker process. Each Dramatiq thread of a worker process may run a heavy plan at
# once; with fewer children, one waits (its deadline still running). configure_isolation sets it.
DEFAULT_WORKERS = 2
# How long a cancelled call waits for pebble to confirm the child is gone before it returns.
_STOP_CONFIRM_S = 5.0
# Pebble's own timeout on the task, a backstop a little after our deadline: it kills the child
# even if the waiting thread stopped polling for some reason.
_BACKSTOP_S = 2.0
# Imported once in the fork server, so each new child starts with them loaded (~ms, not ~1 s).
_PRELOAD = ["processing.isolation"]


class WorkStopped(Exception):
    """The filter steps were stopped before they finished (not a problem with the image)."""


class WorkCancelled(WorkStopped):
    """should_stop() returned True (the job was cancelled): the work was stopped."""


class WorkTimedOut(WorkStopped):
    """The steps ran past their deadline: the work was stopped."""


_lock = threading.Lock()
_pool: ProcessPool | None = None
_pool_pid: int | None = None  # the process that started the pool: a forked copy needs its own
_workers = DEFAULT_WORKERS


def _never() -> bool:
    return False


def run_filters(
    source: Image.Image | bytes,
    steps: Sequence[Step] | Any,
    *,
    deadline_s: float,
    should_stop: Callable[[], bool] = _never,
    poll_s: float = 0.25,
    limits: Limits = DEFAULT_LIMITS,
) -> Image.Image:
    """apply_steps, stoppable: what the filters stage calls, with its input's encoded bytes
    (or an image).

    The plan is checked first, from the image's size (probe() for bytes: no decoding), so a
    plan over the limits fails with InvalidStep before any work. A plan with a heavy step
    (Plan.isolate: a step estimated at ISOLATE_FROM_MS or more) runs in a child
    (run_steps_isolated; bytes are decoded there, which copies the fewest bytes across).
    Otherwise the steps run in this thread and `should_stop` and the deadline are checked
    before each step, which stops the work soon enough when no step is long. Raises
    WorkCancelled or WorkTimedOut when stopped.
    """
    validated = validate_steps(steps)
    size = _size_of(source, limits)
    if plan_steps(size, validated, limits).isolate:
        return run_steps_isolated(
            source,
            validated,
            deadline_s=deadline_s,
            should_stop=should_stop,
            poll_s=poll_s,
            limits=limits,
        )
    deadline = time.monotonic() + deadline_s

    def before_step(index: int, step: Step) -> None:
        _check(should_stop, deadline, deadline_s)

    image = open_image(source, limits=limits) if isinstance(source, bytes) else source
    return apply_steps(image, validated, limits=limits, before_step=before_step)


def _size_of(source: Image.Image | bytes, limits: Limits) -> tuple[int, int]:
    if isinstance(source, bytes):
        info = probe(source, limits)
        return info.width, info.height
    return source.size


def run_steps_isolated(
    source: Image.Image | bytes,
    steps: Sequence[Step] | Any,
    *,
    deadline_s: float,
    should_stop: Callable[[], bool] = _never,
    poll_s: float = 0.25,
    limits: Limits = DEFAULT_LIMITS,
) -> Image.Image:
    """Run apply_steps in a child process of the pool and return its result.

    `source` is an image (its pixels are copied to the child) or encoded bytes (the child
    decodes them with open_image, so the decode is killable too). While waiting, every
    `poll_s` seconds `should_stop()` and the deadline (`deadline_s` from now) are checked;
    when either fires the child is killed (and replaced by the pool) and WorkCancelled or
    WorkTimedOut is raised. Errors raised in the child (InvalidStep, ImageError) are raised
    here as they are. Any exception raised in this thread while it waits (Dramatiq's
    TimeLimit, a shutdown) also kills the child before it propagates.
    """
    if deadline_s <= 0:
        raise WorkTimedOut("the filter steps had no time left before they started")
    validated = validate_steps(steps)
    deadline = time.monotonic() + deadline_s
    future = _get_pool().schedule(
        _run_in_child, args=(source, validated, limits), timeout=deadline_s + _BACKSTOP_S
    )
    try:
        while True:
            wait_s = max(0.0, min(poll_s, deadline - time.monotonic()))
            try:
                return future.result(timeout=wait_s)
            except concurrent.futures.TimeoutError:
                if future.done():  # pebble's backstop timeout killed the child
                    raise WorkTimedOut(_timed_out(deadline_s)) from None
            except ProcessExpired as exc:
                raise RuntimeError(f"the filter process died ({exc})") from None
            _check(should_stop, deadline, deadline_s)
    except BaseException:  # stopped by us, or anything raised in this thread while waiting
        _stop(future)
        raise


def configure_isolation(workers: int = DEFAULT_WORKERS) -> None:
    """Set how many children each worker process keeps (default 2), and start them now.

    Call it once per worker process, after the worker process forked (a Dramatiq worker's
    boot), so that the first heavy job does not pay for starting the fork server (~1 s).
    """
    global _workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer (got {workers!r})")
    with _lock:
        _workers = workers
        if _pool is not None and _pool_pid == os.getpid():
            _pool.stop()
            _reset()
    # pebble starts its processes on the first task: run one, so they are up on return.
    _get_pool().schedule(os.getpid).result(timeout=60)


def shutdown_isolation() -> None:
    """Stop this process's children (tests; a worker's shutdown). The next call starts anew."""
    with _lock:
        if _pool is not None and _pool_pid == os.getpid():
            _pool.stop()
            _pool.join(timeout=10)
        _reset()


def _reset() -> None:
    global _pool, _pool_pid
    _pool, _pool_pid = None, None


def _get_pool() -> ProcessPool:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid() or not _pool.active:
            methods = multiprocessing.get_all_start_methods()
            method = "forkserver" if "forkserver" in methods else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                # Process-wide, and only read when the fork server starts (once per process).
                context.set_forkserver_preload(_PRELOAD)
            _pool = ProcessPool(max_workers=_workers, context=context)
            _pool_pid = os.getpid()
        return _pool


def _check(should_stop: Callable[[], bool], deadline: float, deadline_s: float) -> None:
    if should_stop():
        raise WorkCancelled("the job was cancelled while its filter steps ran")
    if time.monotonic() >= deadline:
        raise WorkTimedOut(_timed_out(deadline_s))


def _timed_out(deadline_s: float) -> str:
    return f"the filter steps ran past their {deadline_s:g} s deadline"


def _stop(future: concurrent.futures.Future[Any]) -> None:
    """Cancel the task; pebble kills its child. Wait (bounded) until it has: the caller's
    promise is that the CPU is free when it returns."""
    if future.cancel():
        concurrent.futures.wait([future], timeout=_STOP_CONFIRM_S)


def _run_in_child(
    source: Image.Image | bytes, steps: list[Step], limits: Limits
) -> Image.Image:
    # pebble's worker handles SIGTERM in Python, which cannot run while a C call (OpenCV,
    # Pillow) holds the thread: pebble would wait 3 s before SIGKILL. The default action ends
    # the process at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    image = open_image(source, limits=limits) if isinstance(source, bytes) else source
    return apply_steps(image, steps, limits=limits)
