"""The seed projects' own comparison (issue 10, item 4): the same burst of 4K images processed
by thread workers, by process workers and by one process in sequence, for two chains.

    python -m benchmarks.e2e.seeds [--count N]

Chains: ``naive`` is the loop the seed projects write (baselines.naive_with_haar: full decode,
``thumbnail()``, drawn text, OpenCV's Haar cascade, encode); ``ours`` is processing's chain
(benchmarks.ours.chain, what baselines.chain_cpu_ms times). Modes, each given all N images at
once:

- ``sequential``: this process, one image after another;
- ``threads``: a ThreadPoolExecutor of N threads in this process (the seed's
  ``threading_vs_mp`` demo starts one thread per image);
- ``processes``: a ProcessPoolExecutor of one process per CPU, each image's bytes sent to it.
  Its start-up (spawn, imports, the chains' warm-up: MediaPipe's graph, the Haar cascade) is
  timed on its own (``seeds_process_pool_start_s``) and **excluded** from the cells: a worker
  pool is started once and then serves many bursts.

Every mode is warmed up before its timed burst (the threads too: each builds its own MediaPipe
graph and cascade on first use). Spawn, not fork: a child forked from this process would
inherit libvips and MediaPipe threads that do not exist in it (processing/_vips.py, _mediapipe.py).
The benchmarks package caps OpenMP/BLAS pools at one thread before anything imports them;
OpenCV's own pool is left at its default, as a seed project would have it. CPU is read for every
cell (this process's process_time, plus the pool processes' from /proc), so the table can show
how many cores each mode kept busy.

Which parts release the GIL (``gil_probe``): each part of both chains run 4 times by one
thread, then twice by each of two threads at once, in turns, the fastest of each kept; the
speed-up (``seeds_two_threads_<part>``, 2.0 at best on 2 free cores) is what threads can get
from that part, and the cores the two threads kept busy (``seeds_two_threads_cores_<part>``,
the most of the turns) cannot exceed 1 for a part that holds the GIL, however loaded the
machine. OpenCV's own thread pool is set to one thread for the probe, so the Haar cascade's
figures are about the GIL, not about OpenCV's internal parallelism.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.e2e import baselines, procs

DATA = Path(__file__).resolve().parents[1] / "data"
CHAINS = ("naive", "ours")
MODES = ("sequential", "threads", "processes")


def _chain(name: str) -> Callable[[bytes], bytes]:
    if name == "naive":
        return baselines.naive_with_haar
    from benchmarks import ours

    return ours.chain


def process(name: str, data: bytes) -> int:
    """One image through one chain; the size of the result (sent back instead of the bytes,
    which would only add a copy through the pipe)."""
    return len(_chain(name)(data))


def _small(data: bytes) -> bytes:
    """A 640 px copy: warms the naive chain (imports, the cascade, the font) at a fraction of
    the 4K's cost."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((640, 640))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _warm(data: bytes) -> None:
    """What a worker has done after its first images: ours on the 4K photo itself (a small
    one would skip the libvips resize, which starts on first use), the naive chain on a small
    copy."""
    from benchmarks import ours

    ours.warm_up(data)
    process("naive", _small(data))


_BARRIER: list[Any] = []  # the pool's start-up barrier, in each pool process


def _init_pool_process(data: bytes, barrier: Any) -> None:
    _warm(data)
    _BARRIER.append(barrier)


def _pool_ready(_: int) -> int:
    """Blocks its process until every process of the pool has one of these tasks: a process
    that warmed up first cannot take them all, so every process is started and warmed."""
    _BARRIER[0].wait(120)
    return os.getpid()


def start_process_pool(data: bytes, size: int) -> tuple[ProcessPoolExecutor, list[int], float]:
    """A spawned pool of ``size`` warmed processes, their pids, and how long it took."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(size, mp_context=context, initializer=_init_pool_process,
                               initargs=(data, context.Barrier(size)))
    pids = sorted(set(pool.map(_pool_ready, range(size))))
    if len(pids) != size:
        pool.shutdown()
        raise RuntimeError(f"process pool warmed {len(pids)} processes, not {size}")
    return pool, pids, time.perf_counter() - started


def _warm_threads(pool: ThreadPoolExecutor, threads: int, data: bytes) -> None:
    """One warm-up task per thread (a barrier keeps each on its own thread): MediaPipe graphs
    and Haar cascades are per thread."""
    barrier = threading.Barrier(threads)

    def one(_: int) -> None:
        barrier.wait()
        _warm(data)

    list(pool.map(one, range(threads)))


def _timed(run: Callable[[], list[int]], pids: list[int]) -> tuple[float, float]:
    """(wall s, CPU s of this process and of ``pids``) of run()."""
    cpu_before, other_before = time.process_time(), procs.cpu_seconds(pids)
    started = time.perf_counter()
    sizes = run()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before + procs.cpu_seconds(pids) - other_before
    if not all(size > 10_000 for size in sizes):
        raise RuntimeError(f"a chain returned too little: {sizes}")
    return wall, cpu


def _parts(data: bytes) -> dict[str, Callable[[], object]]:
    """Each step of both chains, on the inputs it gets in its chain."""
    import cv2
    import numpy
    from PIL import Image

    from benchmarks import naive, ours

    def decode() -> Image.Image:
        return Image.open(io.BytesIO(data)).convert("RGB")

    full = decode()

    def thumbnail() -> None:
        full.copy().thumbnail(naive.BOX)

    small = naive.decode_resize(data)
    grey = cv2.cvtColor(numpy.asarray(small), cv2.COLOR_RGB2GRAY)
    resized = ours.decode_resize(data)
    return {
        "naive_decode": decode,
        "naive_thumbnail": thumbnail,
        "naive_watermark": lambda: naive.watermark(small),
        "naive_haar": lambda: baselines._cascade().detectMultiScale(grey, 1.1, 5),
        "naive_encode": lambda: naive.encode(small),
        "ours_resize": lambda: ours.decode_resize(data),
        "ours_watermark": lambda: ours.watermark(resized),
        "ours_detect": lambda: ours.detect_all(resized),
        "ours_encode": lambda: ours.encode(resized),
    }


def gil_probe(data: bytes, rounds: int = 2, calls: int = 4) -> dict[str, float]:
    """Speed-up of two threads over one for each part (see the module's docstring); one thread
    and two take turns, ``rounds`` times, and each keeps its fastest (other load on a shared
    machine only ever slows a run down)."""
    import cv2

    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    figures = {}
    try:
        with ThreadPoolExecutor(2) as pool:
            for name, part in _parts(data).items():
                list(pool.map(lambda _, part=part: part(), range(2)))  # each thread warmed
                one = two = math.inf
                cores = 0.0
                for _ in range(rounds):
                    started = time.perf_counter()
                    for _ in range(calls):
                        part()
                    one = min(one, time.perf_counter() - started)
                    started, cpu = time.perf_counter(), time.process_time()
                    list(pool.map(lambda _, part=part: [part() for _ in range(calls // 2)],
                                  range(2)))
                    wall = time.perf_counter() - started
                    two = min(two, wall)
                    cores = max(cores, (time.process_time() - cpu) / wall)
                figures[f"seeds_two_threads_{name}"] = one / two
                # The speed-up compares two runs, each slowed by whatever else ran then; the
                # cores the two threads kept busy cannot exceed 1 for code that holds the GIL,
                # whatever the load: above 1 is proof that the part runs outside it.
                figures[f"seeds_two_threads_cores_{name}"] = cores
                figures[f"seeds_ms_{name}"] = one * 1000 / calls
    finally:
        cv2.setNumThreads(opencv_threads)
    return figures


def measure(data: bytes, count: int = 10, rounds: int = 2) -> dict[str, float]:
    """Every chain in every mode; figures keyed ``seeds_<chain>_<mode>_{s,images_per_s,cores}``
    plus ``seeds_<chain>_<mode>_speedup`` (over that chain's sequential run). The modes take
    turns, ``rounds`` times, and each cell keeps its fastest round (other load on a shared
    machine only slows a run down; ``seeds_<chain>_<mode>_s_runs`` lists them all)."""
    cpus = len(os.sched_getaffinity(0))
    figures: dict[str, Any] = {"seeds_images": count, "seeds_process_pool_size": cpus}
    _warm(data)
    process_pool, pids, figures["seeds_process_pool_start_s"] = start_process_pool(data, cpus)
    try:
        with ThreadPoolExecutor(count) as thread_pool:
            _warm_threads(thread_pool, count, data)
            pools: dict[str, tuple[Executor | None, list[int]]] = {
                "sequential": (None, []), "threads": (thread_pool, []),
                "processes": (process_pool, pids),
            }
            for _ in range(rounds):
                for name in CHAINS:
                    for mode in MODES:
                        pool, watched = pools[mode]
                        if pool is None:
                            def run(name: str = name) -> list[int]:
                                return [process(name, data) for _ in range(count)]
                        else:
                            def run(name: str = name, pool: Executor = pool) -> list[int]:
                                return list(pool.map(process, [name] * count, [data] * count))
                        wall, cpu = _timed(run, watched)
                        key = f"seeds_{name}_{mode}"
                        figures.setdefault(f"{key}_s_runs", []).append(wall)
                        if wall <= min(figures[f"{key}_s_runs"]):
                            figures[f"{key}_s"] = wall
                            figures[f"{key}_images_per_s"] = count / wall
                            figures[f"{key}_cores"] = cpu / wall
            for name in CHAINS:
                for mode in MODES:
                    figures[f"seeds_{name}_{mode}_speedup"] = (
                        figures[f"seeds_{name}_sequential_s"] / figures[f"seeds_{name}_{mode}_s"]
                    )
    finally:
        process_pool.shutdown()
    figures.update(gil_probe(data, rounds=max(2, rounds)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10, help="images per burst")
    parser.add_argument("--rounds", type=int, default=2, help="turns of every cell")
    args = parser.parse_args()
    figures = measure((DATA / "bench_4k.jpg").read_bytes(), args.count, args.rounds)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
