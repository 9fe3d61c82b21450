"""Where the platform's CPU goes: py-spy samples of the workers and the API during one burst,
attributed per image by what the sampled stack is doing.

py-spy samples only threads that are running (not waiting), so samples x interval is CPU
time. The first rule that matches a stack, read leaf to root, names it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

RATE_HZ = 200
# (category, substrings): the first rule with a substring anywhere in the sampled stack names
# the sample. Storage, broker and database calls come first (wherever they are called from);
# then the image work, telling the chain's own steps from the plumbing around them.
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("storage client (boto3, botocore, django-storages)",
     ("botocore/", "boto3/", "s3transfer/", "storages/", "jobs/storage.py")),
    ("broker (pika, dramatiq)", ("pika/", "dramatiq/brokers")),
    ("database (ORM, psycopg2)", ("django/db/", "psycopg2")),
    ("intermediate encode", ("_write_intermediate",)),
    ("chain: resize", ("resize_bytes",)),
    ("decode of a stored intermediate", ("open_image",)),
    ("chain: detect", ("processing/detect", "mediapipe")),
    ("chain: watermark", ("processing/watermark.py",)),
    ("chain: encode", ("processing/encode.py",)),
    ("liveness (leases)", ("jobs/leases.py",)),
    ("upload probe", ("processing/probe.py", "processing/plan.py")),
    ("framework (Django, DRF, gunicorn, dramatiq)",
     ("django/", "rest_framework/", "gunicorn/", "dramatiq/")),
]


def categorise(stack: str) -> str:
    for name, needles in RULES:
        if any(needle in stack for needle in needles):
            return name
    return "other"


def attribute(folded: Path, images: int) -> dict[str, float]:
    """{category: CPU ms per image} from py-spy's raw (folded) output."""
    counts: Counter[str] = Counter()
    for line in folded.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if stack and number.isdigit():
            counts[categorise(stack)] += int(number)
    return {name: count * 1000 / RATE_HZ / images for name, count in counts.most_common()}


def record(pid: int, output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
         "--subprocesses", "--rate", str(RATE_HZ), "--format", "raw", "--output", str(output),
         "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def sample_burst(stack: Any, body: Any, count: int, work: Path) -> dict[str, Any]:
    """One more burst of ``count`` uploads with py-spy on the workers and the API."""
    outputs = {"worker": work / "profile-worker.txt", "api": work / "profile-api.txt"}
    samplers = {
        "worker": record(stack.worker.pid, outputs["worker"]),
        "api": record(stack.server.pid, outputs["api"]),
    }
    time.sleep(1.0)  # py-spy attaches to every process of the tree
    stack.burst([body] * count, clients=4)
    for sampler in samplers.values():
        sampler.send_signal(signal.SIGINT)
    for sampler in samplers.values():
        sampler.wait(30)
    return {
        f"profile_{name}_ms_per_image": attribute(path, count)
        for name, path in outputs.items() if path.exists()
    }
