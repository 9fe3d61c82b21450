"""CPU of a cProfile run grouped by library, for the benchmark tools' reports."""

from __future__ import annotations

import pstats
from collections import defaultdict
from collections.abc import Sequence


def self_time_by_library(stats: pstats.Stats, groups: Sequence[tuple[str, Sequence[str]]],
                         other: str) -> dict[str, float]:
    """Self time per group (the first whose needle is in a function's file name; else
    ``other``), seconds. A C function's time goes to the group of its caller: a JPEG encode
    called from Pillow is image work, a socket read called from botocore the storage client."""

    def group(filename: str) -> str:
        return next((name for name, needles in groups
                     if any(needle in filename for needle in needles)), other)

    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename != "~":
            totals[group(filename)] += tottime
            continue
        for (caller_file, _, _), (_, _, caller_tottime, _) in callers.items():
            totals[group(caller_file)] += caller_tottime
    return dict(totals)
