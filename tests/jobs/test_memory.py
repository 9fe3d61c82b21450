"""jobs.memory: freed heap pages go back to the system when a worker runs out of work, and at
most every few seconds under load (trimming after every message would cost page faults)."""

from typing import Any

import dramatiq
import pytest

from jobs import memory


def message() -> Any:
    return dramatiq.Message(queue_name="resize", actor_name="resize", args=(), kwargs={},
                            options={})


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: calls.append(1) or True)
    return calls


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: now[0])
    return now


def test_trims_when_the_last_message_in_flight_finishes(trims: list[float],
                                                         clock: list[float]) -> None:
    trim = memory.MemoryTrim(idle_s=1.0, busy_s=10.0)
    first, second = message(), message()
    trim.before_process_message(None, first)
    trim.before_process_message(None, second)
    clock[0] += 2
    trim.after_process_message(None, first)  # one still in flight: busy, 2 s < 10 s
    assert trims == []
    trim.after_process_message(None, second)  # idle now
    assert trims == [1]
    third = message()
    trim.before_process_message(None, third)
    clock[0] += 0.5
    trim.after_process_message(None, third)  # idle again, but 0.5 s after the last trim
    assert trims == [1]


def test_a_message_skipped_before_it_reached_the_middleware_leaves_it_idle(
    trims: list[float], clock: list[float]
) -> None:
    trim = memory.MemoryTrim(idle_s=1.0, busy_s=10.0)
    clock[0] += 2
    # AgeLimit (earlier in the list) skipped it: only the after hook runs here.
    trim.after_skip_message(None, message())
    assert trims == [1]
    clock[0] += 2
    processed = message()
    trim.before_process_message(None, processed)
    trim.after_process_message(None, processed)
    assert trims == [1, 1]  # still idle after it: a count would have gone to -1 (never idle)


def test_under_steady_load_trims_every_busy_interval(trims: list[float],
                                                     clock: list[float]) -> None:
    trim = memory.MemoryTrim(idle_s=1.0, busy_s=10.0)
    trim.before_process_message(None, message())  # a message always in flight from here on
    for _ in range(30):
        each = message()
        trim.before_process_message(None, each)
        clock[0] += 1
        trim.after_process_message(None, each)
    assert len(trims) == 3  # 30 s of work: one trim per 10 s


def test_release_free_memory_calls_the_c_library() -> None:
    # This machine and the images run glibc; elsewhere the function says it could not.
    assert memory.release_free_memory() is (memory._malloc_trim is not None)
    assert memory._malloc_trim is not None
