"""Photopipe under load: the real stack (`make serve` + `make worker` on the services) and
embedded mode (`manage.py run_embedded`), and the measurements taken on each."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.e2e import procs
from benchmarks.e2e.load import Api, Body, Jobs, Upload, percentile

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")
# `make bench-e2e` has made the venv; -o keeps the sub-makes from checking it again.
MAKE = ["make", "--no-print-directory", "-o", ".venv/.installed"]
# The benchmark is one client: the API's rate limits and quotas would only refuse it.
UNLIMITED = {
    "PHOTOPIPE_THROTTLE_USER": "off", "PHOTOPIPE_THROTTLE_ANON": "off",
    "PHOTOPIPE_THROTTLE_UPLOAD": "off", "PHOTOPIPE_QUOTA_JOBS_PER_DAY": "0",
    "PHOTOPIPE_QUOTA_BYTES": "0", "DJANGO_DEBUG": "0",
    # The same photo is uploaded many times: each upload must run its stages, not reuse.
    "PHOTOPIPE_DEDUPE": "0",
}
SERVICE_VARIABLES = ("DATABASE_URL", "RABBITMQ_URL", "AWS_", "DJANGO_SECRET_KEY")
# benchmarks/__init__.py caps these at 1 for the one-core figures; the platform runs as
# deployed, without them.
READY = "Worker process is ready for action"
ONE_CORE_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                      "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def layout_processes(stages: str) -> int:
    """Stage processes of a WORKER_STAGES layout ("resize:2 detect:1x3" -> 3)."""
    return sum(int(entry.split(":")[1].split("x")[0]) for entry in stages.split())


def default_layout() -> str:
    """The WORKER_STAGES `make worker` uses on this machine (empty: every stage everywhere)."""
    done = subprocess.run([*MAKE, "-s", "worker-layout"], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**base_env(), "MAKEFLAGS": ""})
    return done.stdout.strip()


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ONE_CORE_VARIABLES}


@dataclass
class Burst:
    """A batch of uploads and when each job finished."""

    uploads: list[Upload]
    finished: dict[str, float | None] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [u.job_id for u in self.uploads if u.job_id]

    @property
    def errors(self) -> int:
        return sum(1 for u in self.uploads if u.status != 202)

    @property
    def all_completed(self) -> bool:
        return not self.errors and all(s == "completed" for s in self.statuses.values())

    def wall_s(self) -> float:
        ends = [t for t in self.finished.values() if t is not None]
        return max(ends) - min(u.sent for u in self.uploads)


class Platform:
    """What both modes share: an API, a jobs table, the processes to account CPU to."""

    api: Api
    jobs: Jobs
    created: list[str]

    def burst(self, bodies: Sequence[Body], clients: int, *, simultaneous: bool = False,
              wait: bool = True) -> Burst:
        api = self.api
        uploads = api.simultaneous(bodies) if simultaneous else api.uploads(bodies, clients)
        burst = Burst(uploads)
        self.created.extend(burst.ids)
        if wait:
            self.finish(burst)
        return burst

    def finish(self, burst: Burst, timeout_s: float = 600.0) -> None:
        states = self.jobs.wait(burst.ids, timeout_s)
        burst.statuses = {job: status for job, (status, _) in states.items()}
        burst.finished = {job: end for job, (_, end) in states.items()}

    def sequential(self, bodies: Sequence[Body]) -> list[tuple[Upload, float]]:
        """One upload at a time, each waited for: (upload, upload-to-completed ms)."""
        results = []
        for body in bodies:
            upload = self.api.upload(body)
            self.created.append(upload.job_id)
            (status, end), = self.jobs.wait([upload.job_id], 120, poll_s=0.003).values()
            if status != "completed":
                raise RuntimeError(f"job {upload.job_id} ended {status}")
            results.append((upload, (end - upload.sent) * 1000))
        return results

    def measure_cpu(self, groups: dict[str, Callable[[], list[int]]], run: Callable[[], Any]
                    ) -> tuple[Any, dict[str, float]]:
        """run(), and the CPU seconds each group of processes spent meanwhile."""
        pids = {name: find() for name, find in groups.items()}
        before = {name: procs.cpu_seconds(p) for name, p in pids.items()}
        outcome = run()
        return outcome, {name: procs.cpu_seconds(p) - before[name] for name, p in pids.items()}

    def clean_up(self) -> None:
        """Delete every job the benchmark made (their rows and stored images)."""
        for job_id in self.created:
            if job_id:
                self.api.delete(job_id)
        self.created.clear()


def _manage(args: list[str], env: dict[str, str], lock: str = "") -> str:
    command = [PY, "manage.py", *args]
    if lock:  # the same lock `make serve` and `make worker` migrate under
        command = ["flock", str(ROOT / "var" / lock), *command]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


class RealStack(Platform):
    """`make serve` and `make worker` started together, as a developer would in two terminals:
    both run `make services` (the services already run) and migrate."""

    USER = "bench-e2e"

    def __init__(self, services_env: dict[str, str], work: Path, worker_processes: int | None
                 ) -> None:
        self.env = {**base_env(), **services_env, **UNLIMITED}
        self.work = work
        self.created = []
        self.jobs = Jobs(services_env["DATABASE_URL"])
        self.port = procs.free_port()
        _manage(["migrate", "--noinput"], self.env, lock="migrate.lock")
        token = _manage(["shell", "-c", _CREATE_USER.format(user=self.USER)], self.env).strip()
        self.api = Api(f"http://127.0.0.1:{self.port}", token.splitlines()[-1])
        self.server = procs.Started(
            "serve", [*MAKE, "serve"],
            {**self.env, "PORT": str(self.port)}, work, ROOT,
        )
        self.worker: procs.Started | None = None
        self.expected_ready = 0
        try:
            self.start_workers(worker_processes)
            procs.wait_for_port(self.port, 120, self.server.proc)
        except BaseException:
            self.stop()
            raise
        s3_port = services_env["AWS_S3_ENDPOINT_URL"].rsplit(":", 1)[1].strip("/")
        self.s3_pid_file = ROOT / "var" / "services" / f"s3-{s3_port}.pid"

    def start_workers(self, processes: int | None, stages: str = "", wait: bool = True
                      ) -> float:
        """`make worker` with WORKER_PROCESSES (None: the default) or the per-stage layout
        WORKER_STAGES; returns the epoch second the command was started."""
        self.stop_workers()
        env = dict(self.env)
        if processes:
            env["WORKER_PROCESSES"] = str(processes)
        if processes or stages:  # "" with a process count: every stage in each process
            env["WORKER_STAGES"] = stages
        else:  # the recommended layout `make worker` starts by default
            stages = default_layout()
        name = "worker-" + (re.sub(r"\W+", "_", stages) if stages else str(processes or "default"))
        started = time.time()
        self.worker = procs.Started(name, [*MAKE, "worker"], env, self.work, ROOT)
        self.expected_ready = 1 + (layout_processes(stages) if stages
                                   else processes or len(os.sched_getaffinity(0)))
        if wait:
            self.wait_workers_ready()
        return started

    def wait_workers_ready(self, timeout_s: float = 180.0) -> tuple[float, float]:
        """Until every Dramatiq process of `make worker` (the stage processes and the delivery
        worker's one) has logged that it is ready; the epoch seconds of the first and the last
        of those lines (the log's own timestamps, not when this poll saw them)."""
        assert self.worker is not None
        self.worker.wait_for_text(READY, self.expected_ready, timeout_s)
        stamps = [datetime.strptime(m, "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local, as logged
                  for m in re.findall(rf"^(\S+ \S+) INFO \S+: {READY}", self.worker.output(), re.M)]
        if len(stamps) < self.expected_ready:  # another log format: when this poll saw them
            return time.time(), time.time()
        return min(stamps), max(stamps)

    def stop_workers(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def cpu_groups(self) -> dict[str, Callable[[], list[int]]]:
        return {
            "worker": lambda: procs.descendants(self.worker.pid),
            "api": lambda: procs.descendants(self.server.pid),
            "s3": lambda: [int(self.s3_pid_file.read_text())],
            "postgres": lambda: procs.pids_named("postgres"),
            "rabbitmq": lambda: procs.pids_named("beam.smp"),
        }

    def worker_rss_mb(self) -> list[float]:
        """Resident size of each Dramatiq worker process (the launcher excluded)."""
        pids = procs.python_children(self.worker.pid)
        sizes = sorted((procs.rss_mb(pid) for pid in pids), reverse=True)
        return sizes

    def stop(self) -> None:
        try:
            self.clean_up()
            _manage(["shell", "-c", _DELETE_USER.format(user=self.USER)], self.env)
        finally:
            self.stop_workers()
            self.server.stop()


_CREATE_USER = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user, _ = get_user_model().objects.get_or_create(username={user!r}, defaults={{"is_staff": True}})
print(Token.objects.get_or_create(user=user)[0].key)
"""
_DELETE_USER = """
from django.contrib.auth import get_user_model
get_user_model().objects.filter(username={user!r}).delete()
"""


class Embedded(Platform):
    """`manage.py run_embedded` with its own SQLite file and media directory."""

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in base_env().items() if not k.startswith(SERVICE_VARIABLES)}
        database = work / "db.sqlite3"
        self.env = {**env, **UNLIMITED, "DATABASE_URL": f"sqlite:///{database}",
                    "MEDIA_ROOT": str(work / "media")}
        self.created = []
        self.jobs = Jobs(self.env["DATABASE_URL"])
        _manage(["migrate", "--noinput"], self.env)
        self.port = procs.free_port()
        self.server = procs.Started(
            "embedded", [PY, "manage.py", "run_embedded", f"127.0.0.1:{self.port}"],
            self.env, work, ROOT,
        )
        try:
            procs.wait_for_port(self.port, 120, self.server.proc)
            self.server.wait_for_text("API token of", 1, 60)
        except BaseException:
            self.stop()
            raise
        token = re.search(r"API token of '[^']+': (\w+)", self.server.output()).group(1)
        self.api = Api(f"http://127.0.0.1:{self.port}", token)

    def cpu_groups(self) -> dict[str, Callable[[], list[int]]]:
        return {"embedded": lambda: [self.server.pid]}

    def rss_mb(self) -> float:
        return procs.rss_mb(self.server.pid)

    def stop(self) -> None:
        self.server.stop()


def summarise_sequential(results: list[tuple[Upload, float]]) -> dict[str, float]:
    latencies = [ms for _, ms in results]
    api = [upload.latency_ms for upload, _ in results]
    return {
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "api_p50_ms": percentile(api, 50), "api_p99_ms": percentile(api, 99),
    }
