"""MediaPipe graphs for the model-based detectors: offline, one per thread, created lazily.

- Offline: only models that ship inside the mediapipe==0.10.14 wheel are used, and their files
  are checked before a graph is built, so a broken install fails with a clear message instead of
  MediaPipe fetching weights (its `Pose(model_complexity=0)` would download; we never use it).
- One per thread: a graph is not safe to call from two threads at once and costs ~10-50 ms to
  build, so each thread builds its own on first use and keeps it. A forked child rebuilds (the
  parent's graph threads do not exist there).
- Quiet: the TF-Lite and absl C++ loggers write straight to file descriptor 2 when a graph runs
  for the first time (three or four lines per graph). GLOG_minloglevel/TF_CPP_MIN_LOG_LEVEL do
  not reach them in this build, so while a graph is built and warmed up fd 2 is captured, and
  everything but those known lines is written back afterwards: nothing else is lost.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

# Set before mediapipe is imported; harmless where they have no effect, and a deployment's own
# values win.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# protobuf 4 warns on every MediaPipe result conversion; not ours to fix, not useful in logs.
warnings.filterwarnings(
    "ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning
)

_NATIVE_NOISE = (
    b"Created TensorFlow Lite XNNPACK delegate",
    b"All log messages before absl::InitializeLog()",
    b"inference_feedback_manager.cc",
    b"Feedback manager requires a model",
)
_INSTALL_HINT = "pip install --no-deps -r requirements-nodeps.txt (mediapipe==0.10.14)"


class DetectorUnavailable(RuntimeError):
    """A model-based detector cannot run in this deployment (package or model file missing).

    A deployment problem, not an image problem: it is not an ImageError, so the platform treats
    it like any other bug (retry, then fail loudly) instead of blaming the user's image.
    """


def import_mediapipe() -> ModuleType:
    try:
        with _without_legacy_drawing():
            import mediapipe
    except ImportError as exc:
        raise DetectorUnavailable(
            f"face and people detection need MediaPipe: {_INSTALL_HINT} ({exc})"
        ) from exc
    return mediapipe


def import_solution(name: str) -> ModuleType:
    """One legacy ``mediapipe.python.solutions`` module, e.g. ``face_detection``."""
    import_mediapipe()
    return importlib.import_module(f"mediapipe.python.solutions.{name}")


class _SolutionsWithoutDrawing(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``mediapipe.python.solutions`` as a bare package holding only face_detection.

    Its real ``__init__.py`` imports every legacy solution, among them ``drawing_utils``, which
    imports ``matplotlib.pyplot``: measured, 43 MB of resident memory and half a second of
    import in every worker process, for plotting helpers we never call. The package keeps its
    real ``__path__``, so any solution still imports normally, from the same files; this
    finder is in ``sys.meta_path`` only while ``import mediapipe`` runs.
    """

    NAME = "mediapipe.python.solutions"

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.NAME or not path:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, is_package=True)
        spec.submodule_search_locations = [str(Path(next(iter(path))) / "solutions")]
        return spec

    def create_module(self, spec: Any) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        # What the real __init__.py imports, minus the drawing helpers: the solutions register
        # calculator options our graphs use, and mediapipe/__init__.py deletes names their
        # imports bind (``modules``).
        init = Path(module.__path__[0]) / "__init__.py"
        for line in init.read_text().splitlines():
            if line.startswith(f"import {self.NAME}.") and ".drawing_" not in line:
                importlib.import_module(line.split()[1])


@contextlib.contextmanager
def _without_legacy_drawing() -> Iterator[None]:
    finder = _SolutionsWithoutDrawing()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def require_model(relative_path: str) -> None:
    """Fail clearly if a model file is not in the installed wheel (never download it)."""
    root = Path(import_mediapipe().__file__).resolve().parent.parent
    if not (root / relative_path).is_file():
        raise DetectorUnavailable(
            f"model {relative_path} is not in the installed mediapipe package; "
            f"detectors never download weights: {_INSTALL_HINT}"
        )


class _ThreadGraphs(threading.local):
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.graphs: dict[str, Any] = {}


_local = _ThreadGraphs()
# Graphs inherited over fork are kept referenced, never destroyed: their destructor would wait
# for worker threads that only existed in the parent.
_orphans: list[Any] = []
_stderr_lock = threading.Lock()
_WARM_UP = np.zeros((64, 64, 3), dtype=np.uint8)


def thread_graph(name: str, build: Callable[[], Any]) -> Any:
    """This thread's graph called `name`, built (and warmed up quietly) on first use."""
    if _local.pid != os.getpid():
        _orphans.extend(_local.graphs.values())
        _local.pid, _local.graphs = os.getpid(), {}
    graph = _local.graphs.get(name)
    if graph is None:
        with _quiet_native_stderr():
            graph = build()
            graph.process(_WARM_UP)
        _local.graphs[name] = graph
    return graph


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Capture fd 2 for the duration; afterwards write back every line but the known noise.

    Other threads' output in the window (tens of ms, once per thread) is delayed, not lost.
    """
    with _stderr_lock:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all (some daemons): nothing to quiet
            yield
            return
        with tempfile.TemporaryFile() as capture:
            sys.stderr.flush()
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                kept = [
                    line
                    for line in capture.read().splitlines(keepends=True)
                    if not any(noise in line for noise in _NATIVE_NOISE)
                ]
                if kept:
                    os.write(2, b"".join(kept))
