"""CPU per image of each stage's plumbing, in one process, on the real services.

    python -m benchmarks.e2e.stage_cpu [--jobs N] [--cprofile]

Submits N jobs through services.job_submit and runs every stage of each with
jobs.runner.run_stage, in this process, one after another (the next-stage messages are not
sent: the loop runs the stages itself, so nothing is left in the broker). Prints CPU ms per
image (process_time) for the submit and for each stage, beside the chain's own CPU, and with
--cprofile the functions that cost the most, grouped by library. Needs the services'
variables and the stack lock, like any real-stack run; deletes its jobs at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from collections import defaultdict
from pathlib import Path
from unittest import mock

import django

GROUPS = (
    ("storage client", ("botocore", "boto3", "s3transfer", "storages", "urllib3", "http/client")),
    ("database", ("django/db", "psycopg2")),
    ("broker", ("pika", "dramatiq")),
    ("image work", ("processing/", "PIL/", "pyvips", "mediapipe", "cv2", "numpy")),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photopipe.settings")
    django.setup()
    import dramatiq

    from jobs import actors, retention, runner, services  # noqa: F401 - actors: the broker's
    from jobs.models import Job

    dramatiq.get_broker().emit_after("process_boot")
    data = (Path(__file__).resolve().parents[1] / "data" / "bench_4k.jpg").read_bytes()
    # process_time: CPU, not wall time (waits on S3, PostgreSQL and RabbitMQ cost nothing here).
    profiler = cProfile.Profile(time.process_time) if args.cprofile else None
    cpu: dict[str, float] = defaultdict(float)
    ids = []
    with mock.patch("jobs.services.send_on_commit"):
        for index in range(args.jobs + 1):  # the first is a warm-up
            started = time.process_time()
            if profiler and index:
                profiler.enable()
            job = services.job_submit(data=data, filename="bench_4k.jpg")
            cpu["submit"] += time.process_time() - started if index else 0
            ids.append(job.pk)
            for stage in job.plan:
                started = time.process_time()
                runner.run_stage(str(job.pk), stage)
                cpu[stage] += time.process_time() - started if index else 0
            if profiler and index:
                profiler.disable()
            assert Job.objects.get(pk=job.pk).status == Job.Status.COMPLETED
    for job_id in ids:
        retention.job_delete(job_id=job_id)
    for name, seconds in cpu.items():
        print(f"{name:<12}{seconds * 1000 / args.jobs:8.1f} ms CPU per image")
    print(f"{'stages':<12}{sum(v for k, v in cpu.items() if k != 'submit') * 1000 / args.jobs:8.1f}")
    if profiler:
        report(profiler, args.jobs)


def report(profiler: cProfile.Profile, jobs: int) -> None:
    stats = pstats.Stats(profiler)
    groups: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, function), (_, _, tottime, _, _) in stats.stats.items():
        group = next((name for name, needles in GROUPS
                      if any(needle in filename for needle in needles)), "other")
        if filename == "~":  # a C function: its caller's library
            group = "builtins (C calls)"
        groups[group] += tottime
        rows.append((tottime, f"{Path(filename).name}:{line} {function}"))
    print("\nself time by library, ms per image:")
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<20}{seconds * 1000 / jobs:8.1f}")
    print("\ntop functions by self time, ms per image:")
    for seconds, where in sorted(rows, reverse=True)[:25]:
        print(f"  {seconds * 1000 / jobs:8.2f}  {where}")


if __name__ == "__main__":
    main()
