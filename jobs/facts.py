"""The queryable facts of a job's detections, as plain column values.

processing.detect() returns a JSON document; filtering 100,000 jobs on keys inside a JSON
column means reading every row. The detect stage therefore also writes these facts into
indexed columns of Job (jobs/stages.py: the detect stage's ``writes``), and the job list
filters on them (jobs/api/filters.py).
"""

import colorsys
from typing import Any

#: Colour names a client may filter by (``?color=red``), from the dominant colour's hue,
#: saturation and value. Coarse on purpose: "#b03a2e" and "#e74c3c" are both red to a person.
COLOR_NAMES = (
    "black", "white", "grey", "red", "orange", "yellow", "green", "cyan", "blue", "purple",
    "pink", "brown",
)
ORIENTATIONS = ("landscape", "portrait", "square")

# Hue boundaries (degrees) of the named colours, each up to (not including) the bound.
_HUES = ((15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (195, "cyan"),
         (255, "blue"), (290, "purple"), (340, "pink"), (361, "red"))

#: Fields the detect stage writes besides ``detections`` (in jobs/stages.py).
FACT_FIELDS = ("labels", "face_count", "dominant_color", "orientation", "is_document", "phash")

_SIGNED_64 = 1 << 63


def color_name(hex_colour: str) -> str:
    """The coarse name of an "#rrggbb" colour."""
    red, green, blue = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    hue, saturation, value = colorsys.rgb_to_hsv(red, green, blue)
    if value < 0.2:
        return "black"
    if saturation < 0.15:
        return "white" if value > 0.85 else "grey"
    degrees = hue * 360
    name = next(label for bound, label in _HUES if degrees < bound)
    # Dark oranges and reds are what people call brown (wood, leather, soil).
    if name in ("orange", "red") and value < 0.6 and degrees >= 10:
        return "brown"
    return name


def phash_to_int(phash: str) -> int:
    """The 16-hex-digit pHash as a signed 64-bit integer (what a BIGINT column holds)."""
    value = int(phash, 16)
    return value - (1 << 64) if value >= _SIGNED_64 else value


def phash_to_hex(value: int) -> str:
    return f"{value & ((1 << 64) - 1):016x}"


def facts_from_detections(detections: dict[str, Any] | None) -> dict[str, Any]:
    """Column values for FACT_FIELDS; None for a fact the detections do not hold."""
    found = detections or {}
    colours = found.get("dominant_colors") or []
    orientation = found.get("orientation")
    phash = found.get("phash")
    is_document = found.get("is_document")
    return {
        "labels": [label for label in found.get("labels", []) if isinstance(label, str)],
        "face_count": len(found["faces"]) if isinstance(found.get("faces"), list) else None,
        "dominant_color": color_name(colours[0]["hex"]) if colours else "",
        "orientation": orientation if orientation in ORIENTATIONS else "",
        "is_document": is_document if isinstance(is_document, bool) else None,
        "phash": phash_to_int(phash) if isinstance(phash, str) and len(phash) == 16 else None,
    }
