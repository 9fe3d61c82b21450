"""Perceptual hash (pHash) for near-duplicates, and the distance between two hashes.

The classic DCT hash (as in pHash and the `imagehash` package): grey, 32x32 area-averaged, 2-D
DCT, keep the 8x8 lowest frequencies, one bit per coefficient: above their median or not.
Resizing and JPEG recompression barely move the low frequencies, so copies of one photo stay
within a few bits while different photos differ in about half of the 64.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image

from processing.detectors._frame import frame_of

# Measured on the test photos: copies resized (x0.25..x1.5), recompressed (JPEG q50..q90) or
# brightened 20% are 0-6 bits apart, different photos 26-38. A 5% crop already moves 8-20
# bits: pHash finds copies, not crops.
NEAR_DUPLICATE_MAX_DISTANCE = 10


def detect_phash(image: Image.Image) -> dict[str, Any]:
    return {"phash": phash(frame_of(image).grey)}


def phash(grey: np.ndarray) -> str:
    """64-bit DCT hash of a 2-D uint8 array as 16 hex characters."""
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    bits = np.packbits(low > np.median(low))  # 8 bytes, row by row, first bit highest
    return bits.tobytes().hex()


def hamming_distance(a: str, b: str) -> int:
    """Bits that differ between two hashes of equal length; 0 means identical."""
    if len(a) != len(b):
        raise ValueError(f"hashes differ in length: {len(a)} and {len(b)} characters")
    return (int(a, 16) ^ int(b, 16)).bit_count()
