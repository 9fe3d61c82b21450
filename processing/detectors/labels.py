"""Labels derived from the detectors' facts, never guessed: each names the fact behind it.

- face: at least one face; faces: two or more
- person: at least one person; people: two or more
- document: is_document
- dark: brightness under 0.25; bright: over 0.75
- blurry: is_blurry
- colorful: colorfulness 59 or more ("quite colourful" on Hasler and Suesstrunk's scale);
  monochrome: under 5 (grey, or nearly)
- landscape / portrait / square: the orientation
A detector that returns its own "labels" list (a deployment's model) adds to these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Every label derive_labels can give (a deployment's own detectors may add others).
DERIVED_LABELS = (
    "face", "faces", "person", "people", "document", "dark", "bright", "blurry", "colorful",
    "monochrome", "landscape", "portrait", "square",
)
DARK_BELOW = 0.25
BRIGHT_ABOVE = 0.75
COLORFUL_FROM = 59.0
MONOCHROME_BELOW = 5.0


def derive_labels(facts: dict[str, Any], extra: Iterable[str] = ()) -> list[str]:
    labels: list[str] = []
    faces = len(facts.get("faces") or ())
    people = len(facts.get("people") or ())
    brightness = facts.get("brightness")
    colorfulness = facts.get("colorfulness")
    candidates = [
        ("face", faces >= 1),
        ("faces", faces >= 2),
        ("person", people >= 1),
        ("people", people >= 2),
        ("document", facts.get("is_document") is True),
        ("dark", brightness is not None and brightness < DARK_BELOW),
        ("bright", brightness is not None and brightness > BRIGHT_ABOVE),
        ("blurry", facts.get("is_blurry") is True),
        ("colorful", colorfulness is not None and colorfulness >= COLORFUL_FROM),
        ("monochrome", colorfulness is not None and colorfulness < MONOCHROME_BELOW),
    ]
    labels.extend(name for name, present in candidates if present)
    if isinstance(facts.get("orientation"), str):
        labels.append(facts["orientation"])
    for label in extra:
        if label not in labels:
            labels.append(label)
    return labels
