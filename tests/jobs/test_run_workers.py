"""scripts/run_workers.sh (`make worker`) builds the right rundramatiq commands: the default
layout and a per-stage WORKER_STAGES layout, checked through its WORKER_DRY_RUN output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobs.queues import DELIVERY_QUEUES, stage_worker_queues

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_workers.sh"


def dry_run(stages: str = "", processes: int = 2, threads: int = 2
            ) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PY": sys.executable, "WORKER_DRY_RUN": "1",
           "WORKER_PROCESSES": str(processes), "WORKER_THREADS": str(threads),
           "WORKER_STAGES": stages}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=120)


def commands(output: str) -> list[tuple[str, str, str, list[str]]]:
    """(prefetch, processes, threads, queues) of every printed rundramatiq command."""
    found = []
    for line in output.splitlines():
        words = line.split()
        assert words[0].startswith("PHOTOPIPE_PREFETCH=") and "rundramatiq" in words, line
        options = words[words.index("rundramatiq") + 1:]
        queues = options[options.index("--queues") + 1:]
        found.append((words[0].split("=")[1], options[options.index("--processes") + 1],
                      options[options.index("--threads") + 1], queues))
    return found


def test_default_layout_puts_every_stage_queue_in_every_process():
    done = dry_run(processes=3, threads=2)
    assert done.returncode == 0, done.stderr
    assert commands(done.stdout) == [
        ("2", "1", "2", list(DELIVERY_QUEUES)),
        ("2", "3", "2", list(stage_worker_queues())),
    ]


def test_per_stage_layout_gives_each_stage_its_own_processes_and_threads():
    done = dry_run("resize:2 watermark:1 detect:1x3 filters:1", threads=2)
    assert done.returncode == 0, done.stderr
    assert commands(done.stdout) == [
        ("2", "1", "2", list(DELIVERY_QUEUES)),
        ("2", "2", "2", ["resize", "control"]),
        ("2", "1", "2", ["watermark"]),
        ("3", "1", "3", ["detect"]),  # prefetch follows the group's threads
        ("2", "1", "2", ["filters"]),
    ]


def test_a_stage_the_layout_leaves_out_still_has_a_consumer():
    done = dry_run("resize:1 watermark:1 detect:1")
    assert done.returncode == 0, done.stderr
    groups = commands(done.stdout)
    assert groups[1][3] == ["resize", "filters", "control"]
    assert "does not name 'filters'" in done.stderr
    consumed = {queue for *_, queues in groups[1:] for queue in queues}
    assert consumed == set(stage_worker_queues())


@pytest.mark.parametrize(("stages", "message"), [
    ("resize:0", "is not STAGE:PROCESSES"),
    ("resize:two", "is not STAGE:PROCESSES"),
    ("blur:1", "'blur', not a stage"),
    ("control:1", "'control', not a stage"),
    ("resize:1 resize:2", "'resize' twice"),
])
def test_a_bad_layout_stops_before_starting_anything(stages, message):
    done = dry_run(stages)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""  # not even the delivery worker


ROOT = SCRIPT.parents[1]


def make_layout(*args: str, **env: str) -> str:
    done = subprocess.run(["make", "-s", *args, "worker-layout"], cwd=ROOT, check=True,
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **env})
    return done.stdout.strip()


@pytest.mark.parametrize(("cpus", "layout"), [
    ("1", "resize:1 watermark:1 detect:1 filters:1"),
    ("2", "resize:2 watermark:1 detect:1 filters:1"),
    ("4", "resize:4 watermark:2 detect:2 filters:1"),
    ("6", "resize:6 watermark:3 detect:3 filters:1"),
])
def test_make_worker_defaults_to_a_per_stage_layout_sized_from_the_cores(
    cpus: str, layout: str
) -> None:
    assert make_layout(f"CPUS={cpus}") == layout
    done = dry_run(stages=layout)
    assert done.returncode == 0 and not done.stderr  # names every stage: nothing left over
    stage_commands = commands(done.stdout)[1:]  # the first is the delivery worker
    expected = [tuple(entry.split(":")) for entry in layout.split()]  # (stage, processes)
    assert [(queues[0], processes) for _, processes, _, queues in stage_commands] == expected
    every_queue = [queue for *_, queues in stage_commands for queue in queues]
    assert sorted(every_queue) == sorted(stage_worker_queues())  # each consumed, once


def test_an_empty_worker_stages_keeps_every_stage_in_every_process() -> None:
    assert make_layout(WORKER_STAGES="") == ""
