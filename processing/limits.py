"""Input limits, passed explicitly to every entry point (never global state).

Pillow's own guard (`Image.MAX_IMAGE_PIXELS`) is process-wide; these limits are per call so the
API and the workers can be configured from settings without touching other code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 50 * MIB
    # Also the limit for every intermediate image a job's filter steps would make.
    max_pixels: int = 50_000_000
    max_frames: int = 1000
    # The work budget of a job's filter steps: their estimated CPU time in milliseconds of one
    # core of the reference machine (weights in filters.py), summed over the plan. 20 s holds
    # three of the heaviest steps (denoise with search 35) on a full 1024x1024 image (~12 s)
    # and stays far inside the 120 s stage time limit on a slower or busy machine.
    max_work_ms: int = 20_000
    # False: an image whose data ends before its frame is filled (a cut JPEG with its end
    # marker put back, a header claiming more pixels than the data holds, a cut PNG) is
    # CorruptImage. True: it is decoded as far as its data goes and the rest is filler.
    accept_damaged: bool = False

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_frames", "max_work_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer (got {value!r})")
        if not isinstance(self.accept_damaged, bool):
            raise ValueError(
                f"Limits.accept_damaged must be true or false (got {self.accept_damaged!r})"
            )


DEFAULT_LIMITS = Limits()


def _trim(number: float, decimals: int) -> str:
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_megapixels(pixels: int) -> str:
    """50_000_000 -> "50", 89_478_485 -> "89.5", 100_000 -> "0.1" (megapixels, for messages)."""
    value = pixels / 1_000_000
    return _trim(value, 1) if value >= 1 else f"{value:.3g}"


def format_bytes(size: int, *, round_up: bool = False) -> str:
    """A byte count as "60 MB", "512 KB" or "900 bytes".

    `round_up` is for the actual size in "X is over the Y limit" messages: rounding up to one
    decimal keeps X visibly above Y when the file is only slightly over.
    """
    for unit, factor in (("MB", MIB), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            if round_up:
                value = math.ceil(value * 10) / 10
            return f"{_trim(value, 1)} {unit}"
    return f"{size} bytes"
