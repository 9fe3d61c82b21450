"""CPU per image of each stage's plumbing, in one process, on the real services.

    python -m benchmarks.e2e.stage_cpu [--jobs N] [--image PATH] [--cprofile]

Submits N jobs through services.job_submit and runs every stage of each with
jobs.runner.run_stage, in this process, one after another (the next-stage messages are not
sent: the loop runs the stages itself, so nothing is left in the broker). Prints CPU ms per
image (process_time) for the submit and for each stage, and with
--cprofile the functions that cost the most, grouped by library. Needs the services'
variables and the stack lock, like any real-stack run; deletes its jobs at the end. --image
chooses the photo (default: the 4K one); the scaling section sizes the stages from the 4K and
the 12 MP figures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from collections import defaultdict
from pathlib import Path
from unittest import mock

import django

from benchmarks.e2e.libraries import self_time_by_library

DATA = Path(__file__).resolve().parents[1] / "data"
GROUPS = (
    ("storage client (boto3, botocore, urllib3)",
     ("botocore", "boto3", "s3transfer", "storages", "urllib3", "http/client", "socket.py",
      "jobs/storage.py")),
    ("database (ORM, psycopg2)", ("django/db", "psycopg2")),
    ("broker (pika, dramatiq)", ("pika", "dramatiq")),
    ("image work (processing, Pillow, libvips)",
     ("processing/", "PIL/", "pyvips", "mediapipe", "cv2", "numpy")),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--image", type=Path, default=DATA / "bench_4k.jpg")
    parser.add_argument("--json", action="store_true", help="last line: the figures as JSON")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photopipe.settings")
    django.setup()
    import dramatiq

    from jobs import actors, retention, runner, services  # noqa: F401 - actors: the broker's
    from jobs.models import Job

    dramatiq.get_broker().emit_after("process_boot")
    data = args.image.read_bytes()
    # process_time: CPU, not wall time (waits on S3, PostgreSQL and RabbitMQ cost nothing here).
    profiler = cProfile.Profile(time.process_time) if args.cprofile else None
    cpu: dict[str, float] = defaultdict(float)
    ids = []
    # The next-stage messages are not sent, but what they would carry is: each stage gets the
    # image the one before handed over (jobs/handoff.py), as a worker would.
    sent: list[dict] = []
    with mock.patch("jobs.services.send_on_commit", lambda *args, **kwargs: sent.append(kwargs)):
        for index in range(args.jobs + 1):  # the first is a warm-up
            started = time.process_time()
            if profiler and index:
                profiler.enable()
            job = services.job_submit(data=data, filename=args.image.name)
            cpu["submit"] += time.process_time() - started if index else 0
            ids.append(job.pk)
            handoff = None
            for stage in job.plan:
                started = time.process_time()
                sent.clear()
                runner.run_stage(str(job.pk), stage, handoff)
                handoff = sent[-1].get("handoff") if sent else None
                cpu[stage] += time.process_time() - started if index else 0
            if profiler and index:
                profiler.disable()
            assert Job.objects.get(pk=job.pk).status == Job.Status.COMPLETED
    for job_id in ids:
        retention.job_delete(job_id=job_id)
    for name, seconds in cpu.items():
        print(f"{name:<12}{seconds * 1000 / args.jobs:8.1f} ms CPU per image")
    stages_s = sum(seconds for name, seconds in cpu.items() if name != "submit")
    print(f"{'stages':<12}{stages_s * 1000 / args.jobs:8.1f}")
    if profiler:
        report(profiler, args.jobs)
    if args.json:
        print(json.dumps({f"inprocess_cpu_ms_{name}": round(seconds * 1000 / args.jobs, 1)
                          for name, seconds in {**cpu, "stages": stages_s}.items()}))


def report(profiler: cProfile.Profile, jobs: int) -> None:
    """Self time per library (a C function's time goes to its caller's library)."""
    groups = self_time_by_library(pstats.Stats(profiler), GROUPS,
                                  "other (Django core, DRF, jobs/, Python)")
    total = sum(groups.values())
    print("\nCPU by library (cProfile with a CPU clock, so inflated), share and ms per image:")
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<42}{seconds / total:6.0%}{seconds * 1000 / jobs:8.1f}")

if __name__ == "__main__":
    main()
