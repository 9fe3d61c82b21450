"""Content detection: a registry of named detectors, run on the *resized* image.

    detect(image)                          -> every registered detector, results merged
    detect(image, ["faces", "phash"])      -> only those (labels from what they found)
    register_detector("logo", find_logos)  -> a deployment's own model joins every run

Each detector is `fn(image) -> dict` of JSON values; `detect` merges the dicts and adds
"labels", derived from the facts (processing.detectors.labels) plus any "labels" list a detector
returns. The built-ins (faces, people, colors, brightness, sharpness, phash, orientation,
document) run offline on models inside the installed packages; together ~7 ms for a 1024x576
image with a face and ~15-17 ms without one (the person detector runs), on one core
(docs/PERFORMANCE.md).

Errors: a built-in detector raising is a bug, or a broken install (DetectorUnavailable, with the
fix in its message), and propagates. A registered detector that raises, returns something that
is not a JSON dict, or overwrites another detector's key does not sink the others: the error is
logged and reported under "detector_errors" ({name: reason}) beside the other results.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from processing.detectors._frame import as_rgb, shared_frames
from processing.detectors._mediapipe import DetectorUnavailable
from processing.detectors.colors import detect_colors
from processing.detectors.document import detect_document
from processing.detectors.faces import detect_faces
from processing.detectors.labels import derive_labels
from processing.detectors.orientation import detect_orientation
from processing.detectors.people import detect_people
from processing.detectors.phash import detect_phash, hamming_distance
from processing.detectors.quality import detect_brightness, detect_sharpness

__all__ = [
    "Detector",
    "DetectorUnavailable",
    "detect",
    "detector_names",
    "hamming_distance",
    "register_detector",
    "unregister_detector",
]

Detector = Callable[[Image.Image], dict[str, Any]]

log = logging.getLogger(__name__)

_BUILTIN: dict[str, Detector] = {
    "faces": detect_faces,
    "people": detect_people,
    "colors": detect_colors,
    "brightness": detect_brightness,
    "sharpness": detect_sharpness,
    "phash": detect_phash,
    "orientation": detect_orientation,
    "document": detect_document,
}
_RESERVED_KEYS = {"labels", "detector_errors"}
_registry: dict[str, Detector] = dict(_BUILTIN)
_registry_lock = threading.Lock()


def register_detector(name: str, fn: Detector, *, replace: bool = False) -> None:
    """Add a detector to every `detect()` run (after those already registered).

    A name already taken raises ValueError unless `replace=True`, which swaps it in place (a
    deployment's better face model, say); a replaced built-in is then treated as registered.
    """
    if not isinstance(name, str) or not name.strip() or name in _RESERVED_KEYS:
        raise ValueError(f"invalid detector name {name!r}")
    if not callable(fn):
        raise TypeError(f"detector {name!r} is not callable")
    with _registry_lock:
        if name in _registry and not replace:
            raise ValueError(f"detector {name!r} is already registered (replace=True swaps it)")
        _registry[name] = fn


def unregister_detector(name: str) -> None:
    """Remove a detector, built-in or not (a deployment that does not want people boxes)."""
    with _registry_lock:
        if _registry.pop(name, None) is None:
            raise ValueError(f"unknown detector {name!r}")


def detector_names() -> list[str]:
    """Registered detectors in the order `detect()` runs them."""
    with _registry_lock:
        return list(_registry)


def detect(image: Image.Image, detectors: Sequence[str] | None = None) -> dict[str, Any]:
    """Run `detectors` (default: all registered) on `image` and merge their results.

    `image` is the resized image (any mode; transparency is composited on white); face and
    people boxes are in its pixel coordinates. The result is JSON-serialisable.
    """
    chosen = _choose(detectors)
    rgb = as_rgb(image)
    results: dict[str, Any] = {}
    extra_labels: list[str] = []
    errors: dict[str, str] = {}
    with shared_frames():
        for name, fn in chosen.items():
            try:
                found = _checked(name, fn(rgb), results)
            except Exception as exc:
                if fn is _BUILTIN.get(name):
                    raise
                log.exception("detector %r failed; the other detectors' results are kept", name)
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            extra_labels.extend(found.pop("labels", ()))
            results.update(found)
    results["labels"] = derive_labels(results, extra_labels)
    if errors:
        results["detector_errors"] = errors
    return results


def _choose(detectors: Sequence[str] | None) -> dict[str, Detector]:
    with _registry_lock:
        registry = dict(_registry)
    if detectors is None:
        return registry
    if isinstance(detectors, str):  # detect(img, "faces") would iterate characters
        detectors = [detectors]
    unknown = [name for name in detectors if name not in registry]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; registered: {sorted(registry)}")
    return {name: registry[name] for name in dict.fromkeys(detectors)}


def _checked(name: str, found: Any, results: Mapping[str, Any]) -> dict[str, Any]:
    """A detector's output as plain JSON values; refuses clashes with earlier detectors."""
    if not isinstance(found, Mapping):
        raise TypeError(f"detector {name!r} returned {type(found).__name__}, not a dict")
    plain = _plain(dict(found))
    labels = plain.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise TypeError(f"detector {name!r} returned labels that are not a list of strings")
    clashes = sorted((plain.keys() - {"labels"}) & (results.keys() | _RESERVED_KEYS))
    if clashes:
        raise ValueError(f"detector {name!r} would overwrite {clashes}")
    return plain


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> Python values; anything not JSON-able raises."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a JSON number")
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("result keys must be strings")
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
