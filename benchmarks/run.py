"""`make bench`: our chain beside the naive one, stage by stage, on a 4K and a 12 MP JPEG.

    python -m benchmarks.run [--quick] [--runs N]   (or BENCH_RUNS=N; python benchmarks/run.py)

One core (pinned), medians of N runs (default 21, at least 15 for the recorded figures; --quick
is 5, for smoke runs), ours and the baseline run in turns in the same process so machine noise
hits both alike. Memory is measured in fresh child processes (benchmarks.memory). Prints a
table with ratios and the targets, then, as the last line, one JSON object for comparing runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

if not __package__:  # run as a file (python benchmarks/run.py): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import naive, ours  # noqa: E402
from benchmarks._cpu import interleaved_medians, pin_one_core  # noqa: E402
from benchmarks.memory import measure_in_child  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
IMAGES = {"4k": DATA / "bench_4k.jpg", "12mp": DATA / "bench_12mp.jpg"}

TARGETS = [
    # (figure, comparison, limit, description)
    ("chain_ms_4k", "<=", 80.0, "whole chain, 4K JPEG, one core (ms)"),
    ("resize_speedup_vs_thumbnail", ">=", 2.3, "decode+resize vs naive decode+thumbnail()"),
    ("speedup_vs_naive", ">=", 2.0, "our chain with detection vs naive chain without"),
    ("added_mb_4k", "<", 40.0, "memory added while one 4K JPEG is processed (MB)"),
]


def runs_from_arguments(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs: a smoke test")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 21)))
    arguments = parser.parse_args(argv)
    return 5 if arguments.quick else max(1, arguments.runs)


def lazy_thumbnail(data: bytes) -> Image.Image:
    """thumbnail() on a not-yet-loaded image: Pillow's own draft (for a 2048-px target)."""
    image = Image.open(io.BytesIO(data))
    image.thumbnail(naive.BOX)
    return image.convert("RGB")


def measure_image(data: bytes, runs: int) -> dict[str, dict[str, float]]:
    """{stage: {"ours": ms, "naive": ms}} for one input image."""
    resized, naive_resized = ours.decode_resize(data), naive.decode_resize(data)
    marked, naive_marked = ours.watermark(resized), naive.watermark(naive_resized)
    pairs: dict[str, dict[str, Callable[[], object]]] = {
        "decode+resize": {
            "ours": lambda: ours.decode_resize(data),
            "naive": lambda: naive.decode_resize(data),
            "lazy_thumbnail": lambda: lazy_thumbnail(data),
        },
        "watermark": {
            "ours": lambda: ours.watermark(resized),
            "naive": lambda: naive.watermark(naive_resized),
        },
        "detect": {"ours": lambda: ours.detect_all(resized)},
        "encode": {
            "ours": lambda: ours.encode(marked),
            "naive": lambda: naive.encode(naive_marked),
        },
        "chain": {"ours": lambda: ours.chain(data), "naive": lambda: naive.chain(data)},
    }
    return {stage: interleaved_medians(fns, runs) for stage, fns in pairs.items()}


def figures_for(key: str, stages: dict[str, dict[str, float]], memory: dict) -> dict[str, Any]:
    chain, naive_chain = stages["chain"]["ours"], stages["chain"]["naive"]
    resize, thumbnail = stages["decode+resize"]["ours"], stages["decode+resize"]["naive"]
    return {
        f"chain_ms_{key}": round(chain, 1),
        f"naive_chain_ms_{key}": round(naive_chain, 1),
        f"speedup_vs_naive_{key}": round(naive_chain / chain, 2),
        f"resize_ms_{key}": round(resize, 1),
        f"naive_resize_ms_{key}": round(thumbnail, 1),
        f"lazy_thumbnail_ms_{key}": round(stages["decode+resize"]["lazy_thumbnail"], 1),
        f"resize_speedup_vs_thumbnail_{key}": round(thumbnail / resize, 2),
        f"watermark_ms_{key}": round(stages["watermark"]["ours"], 2),
        f"naive_watermark_ms_{key}": round(stages["watermark"]["naive"], 2),
        f"detect_ms_{key}": round(stages["detect"]["ours"], 1),
        f"encode_ms_{key}": round(stages["encode"]["ours"], 2),
        f"naive_encode_ms_{key}": round(stages["encode"]["naive"], 2),
        f"added_mb_{key}": memory["ours"]["added_mb"],
        f"naive_added_mb_{key}": memory["naive"]["added_mb"],
        f"rss_before_mb_{key}": memory["ours"]["rss_before_mb"],
    }


def print_table(key: str, size: tuple[int, int], stages: dict, memory: dict) -> None:
    print(f"\n{key.upper()} JPEG {size[0]}x{size[1]} -> fit 1024x1024")
    print(f"{'stage':<30}{'ours ms':>10}{'naive ms':>10}{'naive/ours':>12}")
    for stage, times in stages.items():
        label = {"chain": "whole chain (ours with detect)"}.get(stage, stage)
        mine, theirs = times["ours"], times.get("naive")
        if theirs is None:
            print(f"{label:<30}{mine:>10.1f}{'-':>10}{'-':>12}")
        else:
            print(f"{label:<30}{mine:>10.1f}{theirs:>10.1f}{theirs / mine:>11.2f}x")
    lazy = stages["decode+resize"]["lazy_thumbnail"]
    print(
        f"{'  (thumbnail() on lazy image)':<30}{'':>10}{lazy:>10.1f}"
        f"{lazy / stages['decode+resize']['ours']:>11.2f}x"
    )
    mine, theirs = memory["ours"]["added_mb"], memory["naive"]["added_mb"]
    print(f"{'memory added, MB':<30}{mine:>10.1f}{theirs:>10.1f}{theirs / mine:>11.2f}x")


def target_met(value: float, comparison: str, limit: float) -> bool:
    return {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[comparison]


def check_targets(figures: dict[str, Any]) -> list[str]:
    """One line per target; also records figures["targets_met"] = {name: bool}."""
    lines, met_by_name = [], {}
    for name, comparison, limit, description in TARGETS:
        value = figures[name]
        met = met_by_name[name] = target_met(value, comparison, limit)
        lines.append(
            f"  {'met   ' if met else 'MISSED'} {name} = {value} (target {comparison} "
            f"{limit}): {description}"
        )
    figures["targets_met"] = met_by_name
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    runs = runs_from_arguments(sys.argv[1:] if argv is None else argv)
    cpu = pin_one_core()
    print(
        f"Photopipe benchmarks: {runs} runs per figure (medians), pinned to CPU {cpu} of "
        f"{os.cpu_count()}, Python {platform.python_version()}, "
        f"Pillow {Image.__version__}, chain via {ours.chain_source()}"
    )
    figures: dict[str, Any] = {"runs": runs, "cpus": os.cpu_count()}
    for key, path in IMAGES.items():
        data = path.read_bytes()
        stages = measure_image(data, runs)
        memory = {which: measure_in_child(which, path) for which in ("ours", "naive")}
        with Image.open(path) as image:
            print_table(key, image.size, stages, memory)
        figures.update(figures_for(key, stages, memory))
    # The headline names the targets use are the 4K figures.
    figures["speedup_vs_naive"] = figures["speedup_vs_naive_4k"]
    figures["resize_speedup_vs_thumbnail"] = figures["resize_speedup_vs_thumbnail_4k"]
    print("\nTargets (4K JPEG):")
    print("\n".join(check_targets(figures)))
    print(json.dumps(figures, sort_keys=True))
    return figures


if __name__ == "__main__":
    main()
