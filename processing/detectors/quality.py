"""Brightness and sharpness, on the shared grey copy (at most 512 px on the long side).

Sharpness is the variance of the Laplacian (Pech-Pacheco et al., 2000): the energy of
second-derivative edges. It is measured at a fixed analysis size so it does not depend on the
size the image was resized to. Measured on the test photos fitted to 1024 px: sharp photos
400-1150; the astronaut after a Gaussian blur of radius 1.5 22, of radius 3 under 5; so below
100 is "blurry".
"""

from __future__ import annotations

from typing import Any

import cv2
from PIL import Image

from processing.detectors._frame import frame_of

BLURRY_BELOW = 100.0
# An image with (almost) no contrast, a flat colour, has no edges to be sharp or blurred;
# it is not called blurry.
_MIN_CONTRAST = 4.0


def detect_brightness(image: Image.Image) -> dict[str, Any]:
    """Mean luma (BT.601), 0 black .. 1 white."""
    return {"brightness": round(float(frame_of(image).grey.mean()) / 255.0, 3)}


def detect_sharpness(image: Image.Image) -> dict[str, Any]:
    grey = frame_of(image).grey
    _, contrast = cv2.meanStdDev(grey)
    _, deviation = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))
    sharpness = float(deviation[0, 0]) ** 2
    is_blurry = sharpness < BLURRY_BELOW and float(contrast[0, 0]) >= _MIN_CONTRAST
    return {"sharpness": round(sharpness, 1), "is_blurry": bool(is_blurry)}
