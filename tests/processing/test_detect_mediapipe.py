"""The MediaPipe plumbing: offline models, clear errors, one graph per thread, quiet logs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from processing.detect import DetectorUnavailable, detect
from processing.detectors import people
from processing.detectors._mediapipe import _quiet_native_stderr


@pytest.fixture
def image() -> Image.Image:
    return Image.new("RGB", (320, 240), (40, 120, 200))


def in_fresh_thread(fn: Callable[[], object]) -> BaseException | None:
    """Run fn in a new thread (which has no MediaPipe graphs yet); return what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # handed back to the test's thread
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return raised[0] if raised else None


def test_missing_mediapipe_gives_a_clear_error(
    image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` fail
    error = in_fresh_thread(lambda: detect(image, ["faces"]))
    assert isinstance(error, DetectorUnavailable)
    assert "mediapipe==0.10.14" in str(error)


def test_a_missing_model_file_is_an_error_never_a_download(
    image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(people, "_MODEL", "mediapipe/modules/pose_landmark/absent.tflite")
    error = in_fresh_thread(lambda: detect(image, ["people"]))
    assert isinstance(error, DetectorUnavailable)
    assert "never download" in str(error)


def test_known_native_log_noise_is_dropped_and_everything_else_kept(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with _quiet_native_stderr():
        os.write(2, b"W0000 inference_feedback_manager.cc:114] Feedback manager requires...\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"a real error from another thread\n")
        print("a Python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a real error from another thread" in err
    assert "a Python warning" in err
    assert "Feedback manager" not in err and "XNNPACK" not in err


def test_the_first_detection_in_a_thread_prints_nothing(
    image: Image.Image, capfd: pytest.CaptureFixture[str]
) -> None:
    assert in_fresh_thread(lambda: detect(image, ["faces", "people"])) is None
    assert capfd.readouterr().err == ""


DETECT_WITHOUT_PLOTTING = """
import sys
from PIL import Image
from processing.detect import detect
found = detect(Image.open(sys.argv[1]).convert("RGB"))
assert found["faces"], found
assert "matplotlib" not in sys.modules, "mediapipe's drawing helpers were imported"
print("ok")
"""


def test_detection_runs_without_importing_mediapipes_plotting_helpers() -> None:
    """import mediapipe would import matplotlib.pyplot (43 MB per worker) for drawing helpers
    nothing here calls (processing/detectors/_mediapipe.py); faces and people still detect."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", DETECT_WITHOUT_PLOTTING, str(root / "testdata" / "astronaut.png")],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
