"""Does the image look like a document or a screenshot (text on a plain background)?

A heuristic on the shared grey copy (at most 512 px) and the colour thumbnail, all four must
hold:
- little colour: mean chroma (max - min of R, G, B) under 0.10 (pages and UIs are mostly grey;
  a coloured title bar is allowed);
- plain background: at least 40% of 8x8 blocks are flat (standard deviation under 8);
- text: at least 12% of pixels sit on a strong edge (Sobel magnitude over 200);
- little photographic texture: at most 35% of blocks are "mid" (std between 8 and 40), where
  text blocks are sharp (std over 40) and background blocks flat.
Measured (`python -m benchmarks.detectors`): page.png, an enlarged JPEG of it and light and
dark UI screenshots pass; every test photo, and a greyscale copy of each, fails at least one
condition (the greyscale astronaut, the closest, fails two). A heuristic: a colourful web page
or a photo of a receipt on a wooden table is not recognised.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image

from processing.detectors._frame import frame_of

MAX_CHROMA = 0.10
MIN_FLAT_BLOCKS = 0.40
MIN_EDGE_PIXELS = 0.12
MAX_MID_BLOCKS = 0.35
_BLOCK = 8
_FLAT_STD = 8.0
_SHARP_STD = 40.0
_STRONG_EDGE = 200


def detect_document(image: Image.Image) -> dict[str, Any]:
    frame = frame_of(image)
    features = document_features(frame.grey, frame.small)
    is_document = (
        features["chroma"] < MAX_CHROMA
        and features["flat_blocks"] >= MIN_FLAT_BLOCKS
        and features["edge_pixels"] >= MIN_EDGE_PIXELS
        and features["mid_blocks"] <= MAX_MID_BLOCKS
    )
    return {"is_document": bool(is_document)}


def document_features(grey: np.ndarray, small: np.ndarray) -> dict[str, float]:
    """The four measurements the decision uses (exposed for calibration and the docs)."""
    small16 = small.astype(np.int16)
    chroma = float((small16.max(axis=2) - small16.min(axis=2)).mean()) / 255.0

    gx = cv2.Sobel(grey, cv2.CV_16S, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_16S, 0, 1)
    magnitude = cv2.add(cv2.convertScaleAbs(gx), cv2.convertScaleAbs(gy))  # saturates at 255
    edge_pixels = np.count_nonzero(magnitude > _STRONG_EDGE) / grey.size

    stds = _block_stds(grey)
    flat = float((stds < _FLAT_STD).mean()) if stds.size else 1.0
    sharp = float((stds > _SHARP_STD).mean()) if stds.size else 0.0
    return {
        "chroma": chroma,
        "flat_blocks": flat,
        "edge_pixels": float(edge_pixels),
        "mid_blocks": 1.0 - flat - sharp,
    }


def _block_stds(grey: np.ndarray) -> np.ndarray:
    """Standard deviation of each 8x8 block, via area-averaged E[x] and E[x^2] (fast in C)."""
    height, width = (side - side % _BLOCK for side in grey.shape)
    if height == 0 or width == 0:
        return np.empty((0, 0), dtype=np.float32)
    values = grey[:height, :width].astype(np.float32)
    size = (width // _BLOCK, height // _BLOCK)
    mean = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
    mean_sq = cv2.resize(values * values, size, interpolation=cv2.INTER_AREA)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
