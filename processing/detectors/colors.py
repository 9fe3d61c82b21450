"""Dominant colours (k-means) and colourfulness (Hasler & Suesstrunk, 2003).

Both look at a 64x64 thumbnail: 4096 samples are plenty for five colours, and k-means on them
takes ~1 ms. k-means starts from the pixels split into five equal groups by luma, so the result
is deterministic (no random seeding) and dark, mid and light colours all get a centre.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image

from processing.detectors._frame import frame_of

COLORS = 5
# Centres closer than this (RGB distance) are one colour: a flat red image gives one
# "#ff0000" at 1.0 rather than five copies of it.
_MERGE_DISTANCE = 12.0
_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def detect_colors(image: Image.Image) -> dict[str, Any]:
    small = frame_of(image).small
    return {
        "dominant_colors": dominant_colors(small),
        "colorfulness": round(colorfulness(small), 1),
    }


def dominant_colors(pixels: np.ndarray, k: int = COLORS) -> list[dict[str, Any]]:
    samples = pixels.reshape(-1, 3).astype(np.float32)
    k = min(k, len(samples))
    order = np.argsort(samples @ _LUMA, kind="stable")
    labels = np.empty(len(samples), dtype=np.int32)
    for index, group in enumerate(np.array_split(order, k)):
        labels[group] = index
    _, labels, centres = cv2.kmeans(
        samples, k, labels.reshape(-1, 1), _CRITERIA, 1, cv2.KMEANS_USE_INITIAL_LABELS
    )
    counts = np.bincount(labels.ravel(), minlength=k).astype(np.float64)

    merged: list[list[Any]] = []  # [centre, count], largest first
    for index in np.argsort(-counts, kind="stable"):
        if counts[index] == 0:
            continue
        for entry in merged:
            if np.linalg.norm(entry[0] - centres[index]) < _MERGE_DISTANCE:
                entry[1] += counts[index]
                break
        else:
            merged.append([centres[index], counts[index]])
    total = float(len(samples))
    colours = [
        {"hex": _hex(centre), "fraction": round(float(count) / total, 3)}
        for centre, count in merged
    ]
    colours.sort(key=lambda colour: -colour["fraction"])
    return colours


def colorfulness(pixels: np.ndarray) -> float:
    """Hasler-Suesstrunk M: ~0 grey, 33 moderately, 59 quite, 82+ highly colourful."""
    rgb = pixels.reshape(-1, 3).astype(np.float32)
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    spread = np.hypot(rg.std(), yb.std())
    mean = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * mean)


def _hex(centre: np.ndarray) -> str:
    r, g, b = (int(np.clip(round(float(value)), 0, 255)) for value in centre)
    return f"#{r:02x}{g:02x}{b:02x}"
