"""`make bench-e2e`: the whole platform under load, against thumbor and the naive loop.

    python -m benchmarks.e2e [--quick] [--profile] [--no-docs] [--only PART,...]

Holds the shared stack lock (BENCH_STACK_LOCK, /tmp/photopipe-stack.lock) while it uses the
real stack: it runs `make services` (which starts what is not running), then starts `make serve`
and `make worker` together. Order: thumbor, the naive loop and our chain's CPU; the seeds'
threads/processes/sequential comparison (seeds.py); the real stack (recommended workers, then
one worker process; then the scaling drains, scaling.py); thumbor again (its figure is the mean
of the two runs, so machine noise that drifts hits both sides); embedded mode. Writes its
section of docs/PERFORMANCE.md and the plots, and prints one JSON line with every figure last.

--only runs some parts, for development: any of thumbor, baselines (the naive loop and the
chain's CPU), seeds, stack (the real-stack measures), scaling (stage CPU for the 4K and 12 MP
photos, then the drains), embedded. It implies --no-docs (the section needs every figure), and
the targets whose figures were not measured are left out of ``targets_met``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.e2e import baselines, procs, profile, report, scaling, seeds
from benchmarks.e2e.load import Body, percentile
from benchmarks.e2e.platform import (
    ROOT,
    Embedded,
    RealStack,
    base_env,
    default_layout,
    summarise_sequential,
)

DATA = ROOT / "benchmarks" / "data"
WORK = ROOT / "var" / "bench-e2e"

# (key, comparison, limit): the targets, checked on this run's figures.
TARGETS = [
    ("throughput_vs_thumbor", ">=", 2.0),
    ("throughput_vs_thumbor_embedded", ">=", 2.5),
    ("worker_cpu_vs_chain", "<=", 1.5),
    ("api_cpu_ms_per_upload", "<=", 15.0),
    ("single_p50_ms", "<=", 150.0),
    ("single_p95_ms", "<=", 300.0),
    ("burst10_done_after_last_upload_s", "<=", 2.0),
    ("saturated_api_p99_vs_idle", "<=", 5.0),
    ("saturated_errors", "<=", 0),
    ("saturated_all_completed", ">=", 1),
    ("two_vs_one_worker_process", ">=", 1.7),
    ("throughput_vs_naive_loop", ">=", 8.0),
    ("worker_rss_mb_max", "<", 300.0),
    ("embedded_rss_mb_200", "<", 500.0),
    ("embedded_rss_growth_mb_100_to_200", "<=", 5.0),
]


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--profile", action="store_true",
                        help="an extra burst sampled with py-spy, attributed per image")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--only", type=_parts, default=PARTS,
                        help=f"comma-separated parts to run (of {','.join(PARTS)}); no docs")
    args = parser.parse_args()
    parts = args.only
    n = Counts(quick=args.quick)
    WORK.mkdir(parents=True, exist_ok=True)
    images = prepare_images(WORK / "images")
    four_k = (images / "bench_4k.jpg").read_bytes()
    body_4k = Body("bench_4k.jpg", four_k)
    mix = [Body(p.name, p.read_bytes()) for p in sorted(images.glob("mix_*.jpg"))]
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "quick": args.quick}
    samples: dict[str, Any] = {}

    thumbor = (baselines.Thumbor(WORK / "thumbor-venv", images, WORK) if "thumbor" in parts
               else None)
    try:
        runs = [thumbor.throughput("bench_4k.jpg", n.throughput, clients=4)] if thumbor else []
        if "baselines" in parts:
            figures["naive_loop_images_per_s"] = baselines.naive_throughput(four_k, n.naive)
            figures["chain_cpu_ms"] = baselines.chain_cpu_ms(four_k, n.chain)
        if "seeds" in parts:  # before the stack: it wants the cores to itself
            figures.update(seeds.measure(four_k, n.seeds, n.rounds))
        if {"stack", "scaling"} & set(parts):
            with stack_lock():
                real_stack(figures, samples, n, body_4k, mix, args.profile, parts)
        if thumbor:
            runs.append(thumbor.throughput("bench_4k.jpg", n.throughput, clients=4))
    finally:
        if thumbor:
            thumbor.stop()
    if runs:
        figures["thumbor_images_per_s"] = sum(r["images_per_s"] for r in runs) / len(runs)
        figures["thumbor_images_per_s_runs"] = [r["images_per_s"] for r in runs]
        figures["thumbor_cpu_ms_per_image"] = sum(r["cpu_ms_per_image"] for r in runs) / len(runs)
    if "embedded" in parts:
        embedded_mode(figures, n, body_4k)

    derive(figures)
    figures = {k: _round(v) for k, v in figures.items()}
    check_targets(figures)
    if not args.no_docs and parts == PARTS:
        report.write(figures, samples, TARGETS)
    print(json.dumps(figures, sort_keys=True))
    return figures


PARTS = ("thumbor", "baselines", "seeds", "stack", "scaling", "embedded")


def _parts(text: str) -> tuple[str, ...]:
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = chosen - set(PARTS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"parts are {', '.join(PARTS)}; not {sorted(unknown)}")
    return tuple(part for part in PARTS if part in chosen)


class Counts:
    def __init__(self, quick: bool) -> None:
        self.throughput = 12 if quick else 40
        self.single = 6 if quick else 20
        self.idle = 6 if quick else 30
        self.burst = 10
        self.backlog = 12 if quick else 30
        self.saturated = 20 if quick else 50
        self.naive = 2 if quick else 10
        self.chain = 5 if quick else 20
        self.embedded_rss = (20, 40) if quick else (100, 200)
        self.seeds = 4 if quick else 10
        # Turns of each measurement that keeps its fastest (seeds.py, scaling.py).
        self.rounds = 1 if quick else 2
        # Jobs per scaling drain: enough that the first process's head start and MediaPipe's
        # first load in each thread are small beside the drain (~5-10 s here).
        self.drain = 16 if quick else 40
        self.stage_cpu_12mp = 5 if quick else 20


@contextmanager
def stack_lock():
    """The shared services are shared: one user at a time (tests hold the same lock)."""
    path = os.environ.get("BENCH_STACK_LOCK", "/tmp/photopipe-stack.lock")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_images(folder: Path) -> Path:
    """The 4K photo as is, and a 1-5 MB mix re-encoded from the two benchmark photos."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "bench_4k.jpg", folder / "bench_4k.jpg")
    for name, source, quality in (
        ("mix_1_4k_q80.jpg", "bench_4k.jpg", 80), ("mix_2_4k.jpg", "bench_4k.jpg", None),
        ("mix_3_12mp.jpg", "bench_12mp.jpg", None), ("mix_4_12mp_q95.jpg", "bench_12mp.jpg", 95),
    ):
        target = folder / name
        if quality is None:
            shutil.copy(DATA / source, target)
        elif not target.exists():
            with Image.open(DATA / source) as image:
                image.save(target, "JPEG", quality=quality)
    return folder


def start_services() -> dict[str, str]:
    """`make services` (idempotent: starts what is not running) and the variables it wrote."""
    subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "services"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    found = {}
    for line in (ROOT / "var" / "services.env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line[len("export "):].partition("=")
            found[name] = value
    return found


def stage_cpu(services_env: dict[str, str], image: Path = DATA / "bench_4k.jpg", jobs: int = 20
              ) -> dict[str, float]:
    """CPU per image of the submit and of each stage, run in one process on the same services
    (benchmarks/e2e/stage_cpu.py): the plumbing without contention, beside chain_cpu_ms."""
    env = {**base_env(), **services_env, "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.e2e.stage_cpu", "--jobs", str(jobs), "--json",
         "--image", str(image)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def real_stack(figures: dict, samples: dict, n: Counts, body: Body, mix: list[Body],
               with_profile: bool, parts: tuple[str, ...]) -> None:
    started = time.perf_counter()
    services_env = start_services()
    stack = RealStack(services_env, WORK, worker_processes=None)
    figures["stack_start_s"] = time.perf_counter() - started
    figures["worker_layout"] = default_layout()
    try:
        if "stack" in parts:
            stack_measures(stack, services_env, figures, samples, n, body, mix, with_profile)
        if "scaling" in parts:
            scaling_measures(stack, services_env, figures, n, body)
    finally:
        stack.stop()


def scaling_measures(stack: RealStack, services_env: dict[str, str], figures: dict, n: Counts,
                     body: Body) -> None:
    """Stage CPU of the 4K and the 12 MP photo (the sizing rule), then the drains."""
    if "inprocess_cpu_ms_resize" not in figures:  # --only scaling: stack_measures did not run
        figures.update(stage_cpu(services_env))
    twelve = stage_cpu(services_env, DATA / "bench_12mp.jpg", n.stage_cpu_12mp)
    figures.update({key.replace("inprocess_", "inprocess_12mp_"): value
                    for key, value in twelve.items()})
    cpu_4k = {stage: figures[f"inprocess_cpu_ms_{stage}"] for stage in scaling.STAGES}
    cpu_12mp = {stage: figures[f"inprocess_12mp_cpu_ms_{stage}"] for stage in scaling.STAGES}
    figures.update(scaling.sizing({"4k": cpu_4k, "12mp": cpu_12mp}))
    figures.update(scaling.measure(stack, body, n.drain, cpu_4k, n.rounds))


def stack_measures(stack: RealStack, services_env: dict[str, str], figures: dict, samples: dict,
                   n: Counts, body: Body, mix: list[Body], with_profile: bool) -> None:
    """The end-to-end figures: latency, throughput, CPU per process group, bursts, RSS."""
    stack.burst([body] * 4, clients=4)  # warm-up: MediaPipe loads on the first detect
    figures["worker_rss_mb_after_warm_up"] = stack.worker_rss_mb()
    figures.update(stage_cpu(services_env))
    single = stack.sequential([body] * n.single)
    samples["single_ms"] = [ms for _, ms in single]
    s = summarise_sequential(single)
    figures.update(single_p50_ms=s["p50_ms"], single_p95_ms=s["p95_ms"])

    idle = stack.sequential(mix * (n.idle // len(mix) + 1))[: n.idle]
    samples["idle_api_ms"] = [u.latency_ms for u, _ in idle]
    figures["idle_api_p99_ms"] = percentile(samples["idle_api_ms"], 99)

    burst, cpu = stack.measure_cpu(
        stack.cpu_groups(), lambda: stack.burst([body] * n.throughput, clients=4)
    )
    figures["images_per_s"] = n.throughput / burst.wall_s()
    for name, seconds in cpu.items():
        figures[f"{name}_cpu_ms_per_image"] = seconds * 1000 / n.throughput
    figures["api_cpu_ms_per_upload"] = figures.pop("api_cpu_ms_per_image")
    figures["throughput_all_completed"] = burst.all_completed

    ten = stack.burst([body] * n.burst, clients=0, simultaneous=True)
    last_upload = max(u.answered for u in ten.uploads)
    figures["burst10_done_after_last_upload_s"] = max(ten.finished.values()) - last_upload
    figures["burst10_all_completed"] = ten.all_completed

    backlog = stack.burst([body] * n.backlog, clients=4, wait=False)
    saturated = stack.burst((mix * n.saturated)[: n.saturated], clients=0,
                            simultaneous=True, wait=False)
    stack.finish(backlog)
    stack.finish(saturated)
    samples["saturated_api_ms"] = [u.latency_ms for u in saturated.uploads]
    figures["saturated_api_p99_ms"] = percentile(samples["saturated_api_ms"], 99)
    figures["saturated_errors"] = saturated.errors
    figures["saturated_all_completed"] = saturated.all_completed and backlog.all_completed

    if with_profile:
        figures.update(profile.sample_burst(stack, body, n.throughput, WORK))
    rss = stack.worker_rss_mb()
    figures["worker_rss_mb"] = rss
    figures["worker_rss_mb_max"] = max(rss)
    figures["api_rss_mb"] = [procs.rss_mb(p) for p in procs.python_children(stack.server.pid)]
    stack.clean_up()

    stack.start_workers(1)
    stack.burst([body] * 4, clients=4)
    one = stack.burst([body] * n.throughput, clients=4)
    figures["images_per_s_1_process"] = n.throughput / one.wall_s()
    stack.clean_up()


def embedded_mode(figures: dict, n: Counts, body: Body) -> None:
    folder = WORK / "embedded"
    shutil.rmtree(folder, ignore_errors=True)
    server = Embedded(folder)
    try:
        server.burst([body] * 4, clients=4)
        figures["embedded_rss_mb_start"] = server.rss_mb()
        burst, cpu = server.measure_cpu(
            server.cpu_groups(), lambda: server.burst([body] * n.throughput, clients=4)
        )
        figures["embedded_images_per_s"] = n.throughput / burst.wall_s()
        figures["embedded_cpu_ms_per_image"] = cpu["embedded"] * 1000 / n.throughput
        done = 4 + n.throughput
        # Keys name the full run's job counts (100, 200); --quick stops earlier.
        for label, mark in zip(("100", "200"), n.embedded_rss, strict=True):
            while done < mark:
                batch = min(20, mark - done)
                server.burst([body] * batch, clients=4)
                done += batch
            figures[f"embedded_rss_mb_{label}"] = server.rss_mb()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def derive(f: dict[str, Any]) -> None:
    """The ratios and sums, each from figures this run measured (--only skips parts)."""

    def ratio(key: str, numerator: str, denominator: str) -> None:
        if f.get(numerator) is not None and f.get(denominator):
            f[key] = f[numerator] / f[denominator]

    ratio("throughput_vs_thumbor", "images_per_s", "thumbor_images_per_s")
    ratio("throughput_vs_thumbor_embedded", "embedded_images_per_s", "thumbor_images_per_s")
    ratio("worker_cpu_vs_chain", "worker_cpu_ms_per_image", "chain_cpu_ms")
    ratio("saturated_api_p99_vs_idle", "saturated_api_p99_ms", "idle_api_p99_ms")
    # The target's ratio is the workers' own (the drain, scaling.py): in the end-to-end burst
    # the API, S3, PostgreSQL and the client share the cores with them. That one is kept too.
    ratio("two_vs_one_worker_process", "images_per_s_drain_2_processes",
          "images_per_s_drain_1_processes")
    ratio("four_vs_one_worker_process", "images_per_s_drain_4_processes",
          "images_per_s_drain_1_processes")
    ratio("balanced_vs_default_layout", "images_per_s_drain_balanced",
          "images_per_s_drain_4_processes")
    ratio("two_vs_one_worker_process_e2e", "images_per_s", "images_per_s_1_process")
    ratio("throughput_vs_naive_loop", "images_per_s", "naive_loop_images_per_s")
    if "embedded_rss_mb_200" in f:
        f["embedded_rss_growth_mb_100_to_200"] = (
            f["embedded_rss_mb_200"] - f["embedded_rss_mb_100"]
        )
    parts = ("worker_cpu_ms_per_image", "api_cpu_ms_per_upload", "s3_cpu_ms_per_image",
             "postgres_cpu_ms_per_image", "rabbitmq_cpu_ms_per_image")
    if all(k in f for k in parts):
        f["platform_cpu_ms_per_image"] = sum(f[k] for k in parts)


def check_targets(figures: dict[str, Any]) -> None:
    met = {}
    for key, comparison, limit in TARGETS:
        value = figures.get(key)
        if value is None:
            print(f"  -      {key} not measured in this run", file=sys.stderr)
            continue
        ok = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[comparison]
        met[key] = bool(ok)
        print(f"  {'met   ' if ok else 'MISSED'} {key} = {value} (target {comparison} {limit})",
              file=sys.stderr)
    figures["targets_met"] = met


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3 if abs(value) < 10 else 1)
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


if __name__ == "__main__":
    main()
