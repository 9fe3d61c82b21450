"""Heavy filter steps run in a child process that is really killed on cancel and at the
deadline (processing.isolation). These tests start real processes and really kill them."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processing import isolation
from processing.errors import CorruptImage, InvalidStep
from processing.filters import apply_steps, validate_steps
from processing.isolation import (
    WorkCancelled,
    WorkTimedOut,
    run_filters,
    run_steps_isolated,
    shutdown_isolation,
)

from .images import photo, save

# ~4 s of one core (non-local means, the widest search) on a 1024x1024 photo: long enough to
# be caught running, inside the work budget.
LONG = [{"name": "denoise", "params": {"search": 35}}]


@pytest.fixture(scope="module", autouse=True)
def pool() -> Iterator[None]:
    yield
    shutdown_isolation()  # leave no process behind


@pytest.fixture(scope="module")
def big() -> Image.Image:
    return photo((1024, 1024))


def descendants() -> set[int]:
    """Every process below this one (the fork server and its children, the pool's workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def busy_child(timeout: float = 20.0) -> int:
    """The descendant that is burning CPU (the child running the long step)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        before = {pid: cpu_ticks(pid) for pid in descendants()}
        time.sleep(0.5)
        for pid, ticks in before.items():
            now = cpu_ticks(pid)
            if ticks is not None and now is not None and now - ticks >= 20:  # >= 0.2 s of CPU
                return pid
    raise AssertionError("no child process ran the long step")


def gone_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def run_in_thread(call: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def target() -> None:
        started = time.monotonic()
        try:
            outcome["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - the test inspects whatever it was
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_the_child_gives_the_same_pixels_as_in_process(big: Image.Image) -> None:
    steps = validate_steps([{"name": "denoise", "params": {"search": 7}}, "sepia"])
    small = big.resize((256, 256))
    isolated = run_steps_isolated(small, steps, deadline_s=60)
    assert np.array_equal(np.asarray(isolated), np.asarray(apply_steps(small, steps)))
    # From encoded bytes the child decodes them itself.
    data = save(small, "PNG")
    from_bytes = run_steps_isolated(data, steps, deadline_s=60)
    assert np.array_equal(np.asarray(from_bytes), np.asarray(isolated))


def test_errors_in_the_child_keep_their_type_and_message(big: Image.Image) -> None:
    crop = [{"name": "crop", "params": {"left": 5000, "width": 10, "unit": "px"}}]
    with pytest.raises(InvalidStep, match=r"^steps\[0\] crop: the region lies outside"):
        run_steps_isolated(big, crop, deadline_s=60)
    cut = save(big, "PNG")
    start = cut.index(b"IDAT") + 4
    with pytest.raises(CorruptImage):
        run_steps_isolated(cut[: start + 2000] + cut[-12:], ["sepia"], deadline_s=60)


def test_should_stop_kills_the_child_running_the_step(big: Image.Image) -> None:
    stop = threading.Event()
    thread, outcome = run_in_thread(
        lambda: run_steps_isolated(big, LONG, deadline_s=60, should_stop=stop.is_set, poll_s=0.1)
    )
    worker = busy_child()
    stop.set()
    # Within a poll and pebble's check (0.1 s each): the child is not left to finish its C call.
    assert gone_within(worker, 1.5), f"child {worker} still running after the cancel"
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), WorkCancelled), outcome


def test_the_deadline_kills_the_child_running_the_step(big: Image.Image) -> None:
    thread, outcome = run_in_thread(
        lambda: run_steps_isolated(big, LONG, deadline_s=1.5, poll_s=0.1)
    )
    worker = busy_child()
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), WorkTimedOut), outcome
    assert str(outcome["error"]) == "the filter steps ran past their 1.5 s deadline"
    assert outcome["seconds"] < 3.5
    assert gone_within(worker, 2), f"child {worker} still running after the deadline"


class TimeLimitLike(BaseException):
    """What Dramatiq's TimeLimit raises in a worker thread: an asynchronous BaseException."""


def test_an_exception_in_the_waiting_thread_kills_the_child(big: Image.Image) -> None:
    armed = threading.Event()

    def should_stop() -> bool:
        if armed.is_set():
            raise TimeLimitLike()
        return False

    thread, outcome = run_in_thread(
        lambda: run_steps_isolated(big, LONG, deadline_s=60, should_stop=should_stop, poll_s=0.1)
    )
    worker = busy_child()
    armed.set()
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), TimeLimitLike), outcome
    assert gone_within(worker, 2)


def test_a_killed_child_is_replaced_and_the_pool_works_on(big: Image.Image) -> None:
    thread, outcome = run_in_thread(
        lambda: run_steps_isolated(big, LONG, deadline_s=1, poll_s=0.1)
    )
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), WorkTimedOut)
    small = big.resize((64, 64))
    assert run_steps_isolated(small, ["invert"], deadline_s=30).size == (64, 64)


def test_run_filters_runs_cheap_plans_here_and_heavy_ones_in_a_child(
    big: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated: list[int] = []
    real = isolation.run_steps_isolated

    def recording(*args: object, **kwargs: object) -> Image.Image:
        isolated.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(isolation, "run_steps_isolated", recording)
    cheap = run_filters(big, ["grayscale", "brightness"], deadline_s=30)
    assert isolated == [] and cheap.size == big.size
    # From bytes too: the size comes from the header, the plan decides before any decoding.
    assert run_filters(save(big, "JPEG"), ["invert"], deadline_s=30).size == big.size
    assert isolated == []
    heavy = run_filters(big.resize((300, 300)), ["denoise"], deadline_s=60)
    assert heavy.size == (300, 300)
    assert isolated == [], "a denoise on 300x300 is estimated under the isolation threshold"
    run_filters(big, ["denoise"], deadline_s=60)
    assert isolated == [1]


def test_run_filters_in_process_stops_between_steps(big: Image.Image) -> None:
    ran: list[str] = []
    calls = iter([False, True])  # the second step finds the job cancelled

    def should_stop() -> bool:
        ran.append("check")
        return next(calls)

    with pytest.raises(WorkCancelled):
        run_filters(big, ["grayscale", "invert", "sepia"], deadline_s=30, should_stop=should_stop)
    assert ran == ["check", "check"]
    with pytest.raises(WorkTimedOut):
        run_filters(big, ["grayscale"], deadline_s=0)


def test_run_filters_refuses_a_plan_over_the_limits_before_any_work(big: Image.Image) -> None:
    with pytest.raises(InvalidStep, match=r"^steps\[5\] rotate: would make a"):
        run_filters(big, [{"name": "rotate", "params": {"angle": 45}}] * 8, deadline_s=30)


def test_configure_isolation_starts_the_children_now_and_checks_its_argument() -> None:
    isolation.configure_isolation(1)
    try:
        assert len(descendants()) >= 2, "the fork server and a child are up on return"
        started = time.monotonic()
        run_steps_isolated(Image.new("RGB", (8, 8)), ["invert"], deadline_s=30)
        assert time.monotonic() - started < 5
    finally:
        isolation.configure_isolation(isolation.DEFAULT_WORKERS)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        isolation.configure_isolation(0)
