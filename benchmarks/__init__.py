"""Speed and memory measurements that print ratios (`make bench`); never timed tests.

Importing the package caps every native thread pool at one thread *before* numpy, OpenCV or
MediaPipe are imported (OpenBLAS, for one, starts its threads at import), so the figures are
one-core figures. `benchmarks._cpu.pin_one_core()` then pins the process to a single CPU.
"""

import os

for _variable in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ.setdefault(_variable, "1")
