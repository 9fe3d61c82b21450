"""CPU per 4K upload in the API, on the real services, through a real gunicorn.

    python -m benchmarks.e2e.api_cpu [--uploads N] [--runs R] [--clients C] [--restart]
        [--warm-up N --warm-up-clients C] [--source DIR ...] [--profile-server] [--cprofile N]

Starts one gunicorn per ``--source`` checkout (default: this one) with the command of that
checkout's `make serve` recipe (gthread, its gunicorn config, the access log) and the
benchmark's environment (throttles and quotas off, dedupe off, DEBUG off:
benchmarks.e2e.platform.UNLIMITED), warms each up, then uploads benchmarks/data/bench_4k.jpg N
times from C clients, R rounds, alternating the sources within each round (the first one
rotating: the machine is shared and noisy, so an A/B compares runs of the same minute). The CPU
of each gunicorn's process tree is read from /proc before and after every run: CPU ms per
upload. ``--restart`` starts fresh servers each round; ``--warm-up 4 --warm-up-clients 1`` is
what `make bench-e2e` does before its burst. ``--profile-server`` profiles gunicorn's request
threads (cProfile, thread CPU clock) and prints the cost by library; ``--cprofile N`` instead
runs N uploads in this process through Django's test client (the same middleware, views and
services) under cProfile. docs/PERFORMANCE.md, "The API's CPU per upload".

Leaves nothing behind: a staff user and token are created and deleted, every job is deleted
(its rows and stored objects), and the first-stage messages the uploads published are taken
off their queue (acknowledged by id; any other message is left where it was). Needs the
services' variables and the stack lock, like any real-stack run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import django

from benchmarks.e2e import procs
from benchmarks.e2e.libraries import self_time_by_library
from benchmarks.e2e.load import Api, Body
from benchmarks.e2e.platform import PY, ROOT, UNLIMITED, base_env

USER = "bench-api-cpu"
DATA = ROOT / "benchmarks" / "data" / "bench_4k.jpg"

OTHER = "other (Python)"
GROUPS = (
    ("multipart parsing (Django)",
     ("django/http/multipartparser", "django/core/files/uploadhandler",
      "django/core/files/uploadedfile", "tempfile")),
    ("storage client (boto3, botocore, urllib3)",
     ("botocore", "boto3", "s3transfer", "storages", "urllib3", "http/client", "socket.py",
      "jobs/storage.py", "ssl.py")),
    ("database (ORM, psycopg2)", ("django/db", "psycopg2")),
    ("broker (pika, dramatiq)", ("pika", "dramatiq")),
    ("image probe (processing, Pillow)", ("processing/", "PIL/")),
    ("DRF", ("rest_framework",)),
    ("middleware (prometheus, sessions, csrf, axes...)",
     ("django_prometheus", "django/contrib/sessions", "django/middleware", "axes/",
      "django/contrib/messages", "django/contrib/auth", "whitenoise")),
    ("hashing", ("hashlib", "_hashlib")),
    ("Django core (handler, urls, request)", ("django/",)),
    ("jobs/ (views, serializers, services)", ("jobs/",)),
)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photopipe.settings")
    os.environ.update(UNLIMITED)
    django.setup()


def _token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username=USER, defaults={"is_staff": True})
    return Token.objects.get_or_create(user=user)[0].key


# Loaded by gunicorn instead of the checkout's own config (which it includes) with
# --profile-server: every request's handling thread is profiled with its own CPU clock
# (time.thread_time), and each worker writes its merged stats when it exits.
_PROFILE_CONFIG = """
import cProfile, os, pstats, threading, time
try:
    from photopipe.gunicorn_conf import *  # noqa: F403 - the checkout's own hooks
except ImportError:
    pass
_local = threading.local()
_merged = []
_lock = threading.Lock()

def pre_request(worker, req):
    _local.profiler = cProfile.Profile(time.thread_time)
    _local.profiler.enable()

def post_request(worker, req, environ, resp):
    profiler = getattr(_local, "profiler", None)
    if profiler is None:
        return
    profiler.disable()
    _local.profiler = None
    with _lock:
        if _merged:
            _merged[0].add(profiler)
        else:
            _merged.append(pstats.Stats(profiler))

def worker_exit(server, worker):
    if _merged:
        _merged[0].dump_stats(os.path.join({out!r}, f"{{os.getpid()}}.pstats"))
"""


def serve_command(source: Path, port: int, workers: int, threads: int) -> list[str]:
    """The gunicorn command of ``source``'s `make serve` recipe, its variables filled in."""
    lines = (source / "Makefile").read_text().split("\nserve:", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if "/bin/gunicorn " in line)
    text = ""
    for line in lines[start:]:
        text += " " + line.strip().rstrip("\\")
        if not line.rstrip().endswith("\\"):
            break
    text = text.split("/bin/gunicorn ", 1)[1]
    for name, value in (("PORT", port), ("WEB_CONCURRENCY", workers), ("WEB_THREADS", threads)):
        text = text.replace(f"$({name})", str(value))
    return [str(Path(PY).parent / "gunicorn"), *text.split()]


class Server:
    """gunicorn as `make serve` starts it, from one source directory."""

    def __init__(self, source: Path, workers: int, threads: int, log_dir: Path,
                 access_log: bool, profile_dir: Path | None = None) -> None:
        self.source = source
        self.port = procs.free_port()
        env = {**base_env(), **UNLIMITED, "DJANGO_SESSION_COOKIE_SECURE": "0",
               "DJANGO_CSRF_COOKIE_SECURE": "0", "PYTHONPATH": str(source)}
        args = serve_command(source, self.port, workers, threads)
        if not access_log and "--access-logfile" in args:
            index = args.index("--access-logfile")
            del args[index:index + 2]
        if profile_dir is not None:
            config = profile_dir / "gunicorn_profile.py"
            config.write_text(_PROFILE_CONFIG.format(out=str(profile_dir)))
            if "--config" in args:
                del args[args.index("--config"):args.index("--config") + 2]
            args += ["--config", str(config)]
        self.api: Api | None = None
        self.started = procs.Started(f"api-cpu-{self.port}", args, env, log_dir, source)
        procs.wait_for_port(self.port, 60, self.started.proc)

    def cpu_s(self) -> float:
        return procs.cpu_seconds(procs.descendants(self.started.pid))

    def stop(self) -> None:
        self.started.stop()


def _run(server: Server, api: Api, bodies: list[Body], clients: int, ids: list[str]) -> float:
    """CPU ms per upload of one run against one server."""
    before = server.cpu_s()
    uploads = api.uploads(bodies, clients)
    spent = server.cpu_s() - before
    ids.extend(u.job_id for u in uploads if u.job_id)
    bad = [u.status for u in uploads if u.status != 202]
    if bad:
        raise RuntimeError(f"{server.source}: uploads answered {bad}; see {server.started.log}")
    return spent * 1000 / len(bodies)


def measure(args: argparse.Namespace, token: str, ids: list[str]) -> dict[str, list[float]]:
    """CPU ms per upload of every run, per source. With ``--restart`` every round starts its
    servers afresh (so each run follows only the warm-up, like `make bench-e2e`'s burst);
    otherwise the servers stay up for all the rounds."""
    body = Body("bench_4k.jpg", DATA.read_bytes())
    figures: dict[str, list[float]] = defaultdict(list)
    servers: list[Server] = []
    try:
        for round_ in range(args.runs):
            if args.restart or not round_:
                for server in servers:
                    server.stop()
                servers = _start(args, token, body, ids)
            # Each round starts with the next source: a drift over the rounds favours none.
            for server in servers[round_ % len(servers):] + servers[:round_ % len(servers)]:
                ms = _run(server, server.api, [body] * args.uploads, args.clients, ids)
                figures[str(server.source)].append(round(ms, 2))
                print(f"{server.source}: {ms:.1f} ms CPU per upload", flush=True)
        return figures
    finally:
        for server in servers:
            server.stop()


def _start(args: argparse.Namespace, token: str, body: Body, ids: list[str]) -> list[Server]:
    log_dir = args.log_dir
    servers: list[Server] = []
    try:
        for source in args.source:
            server = Server(Path(source).resolve(), args.workers, args.threads, log_dir,
                            not args.no_access_log, args.profile_dir)
            servers.append(server)
            server.api = Api(f"http://127.0.0.1:{server.port}", token)
            # A worker thread connects (database, S3 client, broker channel) on its first
            # request; `make bench-e2e` warms up with 4 uploads from one client.
            warm = server.api.uploads([body] * args.warm_up, args.warm_up_clients)
            ids.extend(u.job_id for u in warm if u.job_id)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def profile(count: int, token: str, ids: list[str]) -> None:
    """``count`` uploads in this process (Django's test client, the full middleware stack)
    under cProfile with a CPU clock; cost grouped by library."""
    from django.test import Client

    body = Body("bench_4k.jpg", DATA.read_bytes())
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def upload() -> None:
        response = client.generic("POST", "/api/v1/jobs/", body.payload,
                                  content_type=body.content_type)
        if response.status_code != 202:
            raise RuntimeError(f"upload answered {response.status_code}: {response.content!r}")
        ids.append(response.json()["id"])

    for _ in range(3):
        upload()
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    for _ in range(count):
        upload()
    profiler.disable()
    print(f"in process: {(time.process_time() - started) * 1000 / count:.1f} ms CPU per upload "
          "(under cProfile: inflated)")
    report(profiler, count)


def _group(filename: str) -> str:
    return next(
        (name for name, needles in GROUPS if any(needle in filename for needle in needles)),
        OTHER,
    )


def report(profiler: cProfile.Profile | pstats.Stats, count: int) -> None:
    """Self time per library; a C function's time goes to the library that called it."""
    stats = profiler if isinstance(profiler, pstats.Stats) else pstats.Stats(profiler)
    groups = self_time_by_library(stats, GROUPS, OTHER)
    total = sum(groups.values())
    print("CPU by library (cProfile with a CPU clock), share and ms per upload:")
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<50}{seconds / total:6.0%}{seconds * 1000 / count:8.2f}")
    others = defaultdict(float)
    for (filename, line, name), (_, _, tottime, _, callers) in stats.stats.items():
        files = [filename] if filename != "~" else [c[0] for c in callers]
        if any(_group(f) == OTHER for f in files):
            others[f"{filename}:{line}({name})"] += tottime
    print("\nLargest in 'other', ms per upload:")
    for name, seconds in sorted(others.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {seconds * 1000 / count:7.2f}  {name}")
    print("\nTop functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(os.environ.get("API_CPU_STATS", ""), 60)
    if os.environ.get("API_CPU_CALLERS"):  # a regular expression of functions to explain
        stats.print_callers(os.environ["API_CPU_CALLERS"])


def take_messages(ids: list[str]) -> int:
    """Acknowledge (remove) the queued messages whose first argument is one of ``ids``."""
    import dramatiq
    import pika

    from jobs import actors  # noqa: F401 - registers the stage actors and their queues
    from jobs.stages import stage_plan

    wanted = set(ids)
    queue = dramatiq.get_broker().get_actor(stage_plan(())[0]).queue_name
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["RABBITMQ_URL"]))
    taken = 0
    try:
        channel = connection.channel()
        while True:
            method, _, raw = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            args = json.loads(raw).get("args") or [None]
            if args[0] in wanted:
                channel.basic_ack(method.delivery_tag)
                taken += 1
            # Anything else stays unacknowledged: it goes back to its queue when we close.
    finally:
        connection.close()
    return taken


def clean_up(ids: list[str]) -> None:
    from django.contrib.auth import get_user_model

    from jobs import retention

    taken = take_messages(ids)
    for job_id in ids:
        retention.job_delete(job_id=job_id)
    get_user_model().objects.filter(username=USER).delete()
    print(f"cleaned up: {len(ids)} jobs deleted, {taken} queued messages taken", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=20, help="uploads per run")
    parser.add_argument("--runs", type=int, default=3, help="rounds (each source once each)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--warm-up", type=int, default=0,
                        help="uploads before the runs (default: 2 x workers x threads)")
    parser.add_argument("--warm-up-clients", type=int, default=0,
                        help="(default: workers x threads)")
    parser.add_argument("--restart", action="store_true",
                        help="fresh servers (and warm-up) for every round")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--source", action="append", help="a checkout to serve (repeatable)")
    parser.add_argument("--profile-server", action="store_true",
                        help="profile the gunicorn workers' request threads (one source, one "
                        "run; the CPU figure is then inflated)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="profile N uploads in this process instead")
    args = parser.parse_args()
    args.source = args.source or [str(ROOT)]
    args.warm_up_clients = args.warm_up_clients or args.workers * args.threads
    args.warm_up = args.warm_up or 2 * args.workers * args.threads
    _setup()
    token = _token()
    ids: list[str] = []
    try:
        if args.cprofile:
            profile(args.cprofile, token, ids)
            return
        with tempfile.TemporaryDirectory(prefix="api-cpu-") as profile_dir:
            # gunicorn's output (and the profiles): removed at the end, kept if a run failed.
            args.log_dir = Path(tempfile.mkdtemp(prefix="api-cpu-logs-"))
            args.profile_dir = Path(profile_dir) if args.profile_server else None
            figures = measure(args, token, ids)
            shutil.rmtree(args.log_dir)
            if args.profile_server:
                dumps = [str(p) for p in Path(profile_dir).glob("*.pstats")]
                total = args.uploads * args.runs + args.warm_up
                print(f"(profiled requests: the warm-up too: {total} uploads)")
                report(pstats.Stats(*dumps), total)
    finally:
        clean_up(ids)
    for source, runs in figures.items():
        print(f"{source}: median {statistics.median(runs):.1f} ms CPU per upload (runs {runs})")
    print(json.dumps({s: {"median": statistics.median(r), "runs": r} for s, r in figures.items()}))


if __name__ == "__main__":
    main()
