"""Orientation of the analysed image: landscape, portrait, or square within 5%."""

from __future__ import annotations

from typing import Any

from PIL import Image

SQUARE_TOLERANCE = 0.05


def detect_orientation(image: Image.Image) -> dict[str, Any]:
    return {"orientation": orientation(*image.size)}


def orientation(width: int, height: int) -> str:
    if abs(width - height) <= SQUARE_TOLERANCE * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"
