"""Scaling (issue 10, item 5): what the workers alone deliver with 1, 2 and 4 processes, and
with a per-stage layout balanced by each stage's CPU, by draining a backlog.

The end-to-end burst cannot say what another worker process gives: the API, the S3 endpoint,
PostgreSQL and the bench client share the cores with the workers while it runs. Here the
workers are stopped, N 4K jobs are uploaded (they wait in RabbitMQ's resize queue), then
`make worker` is started and the backlog drained. Two clocks, both reported:

- **from start**: from the moment `make worker` is started to the last job's ``finished_at``;
  includes the workers' start-up (make, Django, the imports), which is paid once per
  deployment, not per image;
- **from ready**: from the moment the last of its Dramatiq processes logged "ready for action"
  (the log's own timestamp) to the last ``finished_at``, counting only the jobs that finished
  after that moment. With a backlog waiting, the first process ready starts work before the
  others are up, so a job finished after the mark may have started before it: this figure
  leans a little high, the more so the fewer jobs there are. It is the one the ratios use
  (``images_per_s_drain_{1,2,4}_processes``, ``two_vs_one_worker_process``).

CPU per image of each process group from the ready mark on, per job finished after it; and the
machine's busy cores over the same window, to show what other users of a shared machine took.
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks.e2e import procs
from benchmarks.e2e.load import Body
from benchmarks.e2e.platform import RealStack, layout_processes

PROCESS_COUNTS = (1, 2, 4)
STAGES = ("resize", "watermark", "detect")  # the default plan's stages


def drain(stack: RealStack, body: Body, count: int, processes: int | None = None,
          stages: str = "") -> dict[str, Any]:
    """Upload ``count`` jobs with no worker running, then start `make worker` and time the
    drain (see the module's docstring)."""
    stack.stop_workers()
    backlog = stack.burst([body] * count, clients=4, wait=False)
    if backlog.errors:
        raise RuntimeError(f"{backlog.errors} of {count} backlog uploads were refused")
    started = stack.start_workers(processes, stages, wait=False)
    first_ready, all_ready = stack.wait_workers_ready()
    # CPU from here on: the drain itself, without the workers' start-up (make, Django, imports:
    # seconds of CPU per process, paid once per deployment).
    groups = {name: find() for name, find in stack.cpu_groups().items()}
    before = {name: procs.cpu_seconds(pids) for name, pids in groups.items()}
    machine_before, mark = procs.machine_busy_seconds(), time.time()
    stack.finish(backlog)
    window = time.time() - mark
    # Memory of the layout: every python process under `make worker` (launchers included); a
    # process that never ran detect has not loaded MediaPipe.
    rss_mb = sum(stack.worker_rss_mb())
    cpu = {name: procs.cpu_seconds(pids) - before[name] for name, pids in groups.items()}
    machine = procs.machine_busy_seconds() - machine_before
    ends = [end for end in backlog.finished.values() if end is not None]
    last = max(ends)
    after_ready = sum(1 for end in ends if end > all_ready)
    result: dict[str, Any] = {
        "processes": processes or layout_processes(stages),
        "jobs": count,
        "all_completed": backlog.all_completed,
        "first_ready_s": first_ready - started,
        "ready_s": all_ready - started,
        "from_start_s": last - started,
        "images_per_s_from_start": count / (last - started),
        "done_before_ready": count - after_ready,
        # None when (nearly) everything finished before the last process was up: no rate.
        "images_per_s": after_ready / (last - all_ready) if after_ready >= 2 else None,
        # Cores kept busy during the drain: the whole machine's, and the part of them that
        # none of the platform's processes spent (other users of a shared machine, the bench's
        # own polling): what the workers could not have.
        "machine_cores_busy": machine / window,
        "other_cores_busy": (machine - sum(cpu.values())) / window,
        "worker_rss_mb_total": rss_mb,
    }
    # Per core the platform actually had: on a shared machine the rate follows the cores the
    # other users leave, this follows the platform's CPU per image.
    platform_cores = sum(cpu.values()) / window
    result["images_per_s_per_platform_core"] = (
        result["images_per_s"] / platform_cores if result["images_per_s"] and platform_cores
        else None
    )
    for name, seconds in cpu.items():
        result[f"{name}_cpu_ms_per_image"] = seconds * 1000 / max(after_ready, 1)
    return result


def balanced_layout(cpu_ms: dict[str, float], processes: int) -> str:
    """A WORKER_STAGES layout of ``processes`` stage processes, each stage's count proportional
    to its CPU per image (at least one each; largest remainder)."""
    total = sum(cpu_ms.values())
    quotas = {stage: processes * ms / total for stage, ms in cpu_ms.items()}
    counts = {stage: max(1, math.floor(q)) for stage, q in quotas.items()}
    by_remainder = sorted(quotas, key=lambda stage: quotas[stage] - counts[stage], reverse=True)
    for stage in by_remainder[: max(0, processes - sum(counts.values()))]:
        counts[stage] += 1
    return " ".join(f"{stage}:{counts[stage]}" for stage in cpu_ms)


def sizing(cpu_ms_by_size: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each stage's share of the stages' CPU, per image size: the fraction of the worker
    processes (of the cores) that stage should have for a stream of that size."""
    shares = {}
    for size, cpu_ms in cpu_ms_by_size.items():
        total = sum(cpu_ms[stage] for stage in STAGES)
        for stage in STAGES:
            shares[f"stage_share_{size}_{stage}"] = cpu_ms[stage] / total
    return shares


def measure(stack: RealStack, body: Body, count: int, cpu_ms_4k: dict[str, float],
            rounds: int = 2) -> dict[str, Any]:
    """Drains with 1, 2 and 4 processes (every stage in every process), then with the layout
    balanced by ``cpu_ms_4k`` with as many processes as the largest count; ``rounds`` times,
    every other round in reverse order, each keeping its fastest drain (other load on a shared
    machine only slows a drain down; ``images_per_s_drain_<label>_runs`` lists them all).
    Every job is deleted after its drain."""
    figures: dict[str, Any] = {}
    runs: list[tuple[str, int | None, str]] = [(f"{p}_processes", p, "") for p in PROCESS_COUNTS]
    layout = balanced_layout(cpu_ms_4k, max(PROCESS_COUNTS))
    runs.append(("balanced", None, layout))
    figures["drain_balanced_layout"] = layout
    for turn in range(rounds):
        for label, processes, stages in runs if turn % 2 == 0 else runs[::-1]:
            started = time.perf_counter()
            result = drain(stack, body, count, processes, stages)
            stack.stop_workers()
            stack.clean_up()
            result["bench_s"] = time.perf_counter() - started
            rate = result.pop("images_per_s")
            tried = figures.setdefault(f"images_per_s_drain_{label}_runs", [])
            tried.append(rate)
            fastest = rate is not None and rate >= max(r for r in tried if r is not None)
            if fastest or f"drain_{label}_jobs" not in figures:
                figures[f"images_per_s_drain_{label}"] = rate
                figures.update({f"drain_{label}_{key}": value for key, value in result.items()})
    return figures
