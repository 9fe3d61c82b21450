"""The detector registry: choosing, adding and isolating detectors."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processing.detect import (
    detect,
    detector_names,
    register_detector,
    unregister_detector,
)

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
# The module itself: `processing.detect` as an attribute is the re-exported function.
detect_module = importlib.import_module("processing.detect")

BUILT_IN = [
    "faces",
    "people",
    "colors",
    "brightness",
    "sharpness",
    "phash",
    "orientation",
    "document",
]


@pytest.fixture
def image() -> Image.Image:
    return Image.new("RGB", (320, 240), (40, 120, 200))


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered by a test; removed afterwards so tests stay independent."""
    names: list[str] = []
    yield names
    for name in names:
        if name in detector_names():
            unregister_detector(name)


def test_the_built_in_detectors_are_registered_in_order() -> None:
    assert detector_names()[: len(BUILT_IN)] == BUILT_IN


def test_a_registered_detector_runs_and_is_listed(image: Image.Image, registered: list) -> None:
    register_detector("square_pixels", lambda img: {"pixels": img.width * img.height})
    registered.append("square_pixels")
    assert "square_pixels" in detector_names()
    found = detect(image)
    assert found["pixels"] == 320 * 240
    assert "faces" in found and "phash" in found


def test_a_detectors_labels_join_the_derived_ones(image: Image.Image, registered: list) -> None:
    register_detector("sky", lambda img: {"labels": ["sky", "landscape"]})
    registered.append("sky")
    labels = detect(image, ["orientation", "sky"])["labels"]
    assert labels == ["landscape", "sky"]


def test_only_the_chosen_detectors_run(image: Image.Image) -> None:
    found = detect(image, ["brightness", "orientation"])
    assert set(found) == {"brightness", "orientation", "labels"}


def test_an_unknown_detector_name_is_refused(image: Image.Image) -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        detect(image, ["faces", "unicorns"])


def test_a_name_cannot_be_taken_twice_unless_replacing(registered: list) -> None:
    register_detector("twice", lambda img: {"a": 1})
    registered.append("twice")
    with pytest.raises(ValueError, match="already registered"):
        register_detector("twice", lambda img: {"a": 2})
    register_detector("twice", lambda img: {"a": 2}, replace=True)
    assert detect(Image.new("RGB", (8, 8)), ["twice"])["a"] == 2


def test_bad_registrations_are_refused() -> None:
    with pytest.raises(ValueError):
        register_detector("", lambda img: {})
    with pytest.raises(ValueError):
        register_detector("labels", lambda img: {})
    with pytest.raises(TypeError):
        register_detector("not_callable", "nope")  # type: ignore[arg-type]


def test_a_failing_custom_detector_does_not_sink_the_others(
    image: Image.Image, registered: list, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(img: Image.Image) -> dict:
        raise RuntimeError("model server down")

    register_detector("broken", broken)
    registered.append("broken")
    found = detect(image, ["brightness", "broken"])
    assert "brightness" in found
    assert found["detector_errors"] == {"broken": "RuntimeError: model server down"}
    assert "broken" in caplog.text


def test_custom_results_that_are_not_json_are_reported(image: Image.Image, registered: list):
    register_detector("not_a_dict", lambda img: [1, 2])
    register_detector("clash", lambda img: {"brightness": 0.5})
    register_detector("odd_value", lambda img: {"when": object()})
    registered.extend(["not_a_dict", "clash", "odd_value"])
    found = detect(image, ["brightness", "not_a_dict", "clash", "odd_value"])
    assert set(found["detector_errors"]) == {"not_a_dict", "clash", "odd_value"}
    assert found["brightness"] != 0.5


def test_numpy_values_from_a_custom_detector_become_plain(image: Image.Image, registered: list):
    register_detector(
        "numbers",
        lambda img: {
            "score": np.float32(0.25),
            "n": np.int64(3),
            "ok": np.bool_(True),
            "v": np.arange(3),
        },
    )
    registered.append("numbers")
    found = detect(image, ["numbers"])
    assert found == {"score": 0.25, "n": 3, "ok": True, "v": [0, 1, 2], "labels": []}
    json.dumps(found)


def test_a_built_in_detector_error_propagates(
    image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A built-in failing is a bug: it must not be hidden under detector_errors."""

    def buggy(img: Image.Image) -> dict:
        raise ZeroDivisionError("bug")

    monkeypatch.setitem(detect_module._BUILTIN, "brightness", buggy)
    monkeypatch.setitem(detect_module._registry, "brightness", buggy)
    with pytest.raises(ZeroDivisionError):
        detect(image, ["brightness"])


def test_detection_runs_in_several_threads_at_once() -> None:
    """Each thread gets its own MediaPipe graphs; results agree with a single-thread run."""
    astronaut = Image.open(TESTDATA / "astronaut.png").convert("RGB")
    expected = detect(astronaut, ["faces", "people"])
    results: list[dict] = []

    def run() -> None:
        for _ in range(3):
            results.append(detect(astronaut, ["faces", "people"]))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 9
