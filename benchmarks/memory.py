"""Memory added while one image goes through a chain, measured in a fresh process.

    python -m benchmarks.memory ours|naive IMAGE      -> one JSON line

The child pins itself to one core, imports everything and warms up (MediaPipe graphs, fonts,
libvips and its thread) on a tiny JPEG, kept tiny so that memory freed but kept by the
allocators after the warm-up cannot hide part of the real run's peak; then it resets the
kernel's high-water mark (/proc/self/clear_refs) and runs the chain once on IMAGE. Added
memory = VmHWM after the run minus VmRSS just before it: what one job costs on top of an idle,
warmed-up worker. A fresh process per figure, because the high-water mark is process-wide.
"""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from benchmarks import naive, ours
from benchmarks._cpu import pin_one_core, reset_high_water_mark, rss_kib

ROOT = Path(__file__).resolve().parent.parent


def _warm_up_jpeg() -> bytes:
    """A 256x256 JPEG of the astronaut: every stage runs (a face, a person), 1/126 of 4K."""
    image = Image.open(ROOT / "testdata" / "astronaut.png").convert("RGB").resize((256, 256))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def measure(which: str, path: Path) -> dict[str, float]:
    chain = {"ours": ours.chain, "naive": naive.chain}[which]
    warm_up = {"ours": ours.warm_up, "naive": naive.chain}[which]
    pin_one_core()
    data = path.read_bytes()
    warm = _warm_up_jpeg()
    for _ in range(2):
        warm_up(warm)
    gc.collect()
    reset_high_water_mark()
    before, _ = rss_kib()
    chain(data)
    _, peak = rss_kib()
    return {
        "rss_before_mb": round(before / 1024, 1),
        "peak_mb": round(peak / 1024, 1),
        "added_mb": round((peak - before) / 1024, 1),
    }


def measure_in_child(which: str, path: Path) -> dict[str, float]:
    """Run `measure` in a fresh interpreter and return its figures."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", which, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], Path(sys.argv[2]))))
