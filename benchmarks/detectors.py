"""How the detectors were chosen: the measurements behind processing/detectors/*.

    python -m benchmarks.detectors

On one core, for each test image resized to fit 1024 px: faces found and time per image for
BlazeFace full-range (used), BlazeFace short-range and OpenCV's Haar cascade; people found and
time for BlazePose's person detector alone (used) and the whole Pose solution with landmarks;
the document heuristic's four measurements; and what each detector costs inside `detect()`.
Figures recorded in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import importlib
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks._cpu import pin_one_core
from processing.detect import detect, detector_names
from processing.detectors import people
from processing.detectors._frame import Frame, frame_of, shared_frames
from processing.detectors._mediapipe import import_mediapipe, thread_graph
from processing.detectors.document import detect_document, document_features

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "page.png",
]
# name -> (image, faces really in it)
Sample = tuple[Image.Image, int]


def samples() -> dict[str, Sample]:
    def fitted(image: Image.Image) -> Image.Image:
        image = image.convert("RGB")
        image.thumbnail((1024, 1024))
        return image

    found = {name: (fitted(Image.open(ROOT / "testdata" / name)), 0) for name in PHOTOS}
    found["astronaut.png"] = (found["astronaut.png"][0], 1)
    for name in ("bench_4k.jpg", "bench_12mp.jpg"):
        found[name] = (fitted(Image.open(ROOT / "benchmarks" / "data" / name)), 1)
    astronaut = found["astronaut.png"][0]
    pair = Image.new("RGB", (1024, 512), (120, 120, 120))
    pair.paste(astronaut, (0, 0))
    pair.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    found["two astronauts"] = (pair, 2)
    small = Image.new("RGB", (1024, 576), (110, 120, 130))
    small.paste(astronaut.resize((240, 240), Image.Resampling.LANCZOS), (400, 336))
    found["small astronaut (47px face)"] = (small, 1)
    found["greyscale astronaut"] = (astronaut.convert("L").convert("RGB"), 1)
    return found


def timed(fn: Callable[[], int], runs: int) -> tuple[int, float]:
    result = fn()
    samples_ms = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples_ms.append((time.perf_counter() - start) * 1000)
    return result, statistics.median(samples_ms)


def face_counters() -> dict[str, Callable[[np.ndarray], int]]:
    solutions = import_mediapipe().solutions

    def blazeface(model: int) -> Callable[[], object]:
        return lambda: solutions.face_detection.FaceDetection(
            model_selection=model, min_detection_confidence=0.5
        )

    full = thread_graph("bench full", blazeface(1))
    short = thread_graph("bench short", blazeface(0))
    haar = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    return {
        "BlazeFace full": lambda rgb: len(full.process(rgb).detections or ()),
        "BlazeFace short": lambda rgb: len(short.process(rgb).detections or ()),
        "Haar cascade": lambda rgb: len(
            haar.detectMultiScale(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 1.1, 5, minSize=(24, 24))
        ),
    }


def people_counters() -> dict[str, Callable[[np.ndarray], int]]:
    solutions = import_mediapipe().solutions
    detector = thread_graph("people", people._build)  # the graph the people detector uses
    # model_complexity=1: the only landmark model in the wheel (0 and 2 would be downloaded).
    pose = thread_graph(
        "bench pose", lambda: solutions.pose.Pose(static_image_mode=True, model_complexity=1)
    )
    return {
        "person detector": lambda rgb: len(detector.process(rgb).detections or ()),
        "Pose + landmarks": lambda rgb: int(pose.process(rgb).pose_landmarks is not None),
    }


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    pin_one_core()
    images = samples()
    counters = {**face_counters(), **people_counters()}
    header = "".join(f"{name:>20}" for name in counters)
    print("found / ms per image, one core (faces for the first three, people for the last two)")
    print(f"{'image':<30}{'faces':>6}{header}")
    for name, (image, faces) in images.items():
        rgb = np.ascontiguousarray(np.asarray(image))
        cells = []
        for counter_name, count in counters.items():
            runs = 3 if counter_name == "Haar cascade" else 9
            found, ms = timed(lambda count=count, rgb=rgb: count(rgb), runs)
            cells.append(f"{found:>8} {ms:>7.1f} ms")
        print(f"{name:<30}{faces:>6}" + "".join(f"{cell:>20}" for cell in cells))

    print(
        "\ndocument heuristic (is_document needs chroma < 0.10, flat >= 0.40, edges >= 0.12, "
        "mid <= 0.35)"
    )
    print(f"{'image':<30}{'chroma':>8}{'flat':>8}{'edges':>8}{'mid':>8}{'is_document':>13}")
    for name, (image, _) in images.items():
        frame = Frame(image)
        features = document_features(frame.grey, frame.small)
        print(
            f"{name:<30}"
            + "".join(f"{value:>8.3f}" for value in features.values())
            + f"{str(detect_document(image)['is_document']):>13}"
        )
    detector_costs(images["bench_4k.jpg"][0])


def detector_costs(image: Image.Image, runs: int = 21) -> None:
    """Median ms of each registered detector within one detect() scope, as detect runs them."""
    registry = importlib.import_module("processing.detect")._registry
    names = detector_names()
    samples_ms: dict[str, list[float]] = {name: [] for name in ["shared arrays", *names]}
    for _ in range(runs):
        with shared_frames():
            start = time.perf_counter()
            frame = frame_of(image)
            _ = frame.rgb, frame.grey, frame.small
            samples_ms["shared arrays"].append((time.perf_counter() - start) * 1000)
            for name in names:
                start = time.perf_counter()
                registry[name](image)
                samples_ms[name].append((time.perf_counter() - start) * 1000)
    _, total = timed(lambda: len(detect(image)), runs)
    print(
        f"\ndetect() on the 4K benchmark photo fitted to {image.width}x{image.height}, "
        f"medians of {runs}: total {total:.1f} ms"
    )
    for name, values in samples_ms.items():
        note = " (faces reused, see people.py)" if name == "people" else ""
        print(f"  {name:<16}{statistics.median(values):>7.2f} ms{note}")


if __name__ == "__main__":
    main()
