"""One core, medians, and the process's memory high-water mark."""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2


def pin_one_core() -> int:
    """Pin this process (and the threads it starts from now on) to one CPU; return it.

    BENCH_CPU chooses the CPU; by default the highest one allowed, which on a small shared
    machine is the least likely to also be serving interrupts.
    """
    allowed = sorted(os.sched_getaffinity(0))
    cpu = int(os.environ.get("BENCH_CPU", allowed[-1]))
    os.sched_setaffinity(0, {cpu})
    cv2.setNumThreads(1)
    return cpu


def median_ms(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000.0


def interleaved_medians(
    fns: dict[str, Callable[[], object]], runs: int, warm_up: int = 2
) -> dict[str, float]:
    """Median ms of each fn, run in turns (a, b, a, b, ...) so machine noise hits all alike."""
    for fn in fns.values():
        for _ in range(warm_up):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000.0 for name, values in samples.items()}


_STATUS = Path("/proc/self/status")


def rss_kib() -> tuple[int, int]:
    """(resident now, high-water mark) of this process in KiB, from /proc/self/status."""
    status = _STATUS.read_text()
    rss = re.search(r"VmRSS:\s+(\d+)", status)
    hwm = re.search(r"VmHWM:\s+(\d+)", status)
    if rss is None or hwm is None:
        raise RuntimeError("/proc/self/status has no VmRSS/VmHWM (not Linux?)")
    return int(rss.group(1)), int(hwm.group(1))


def reset_high_water_mark() -> None:
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")
