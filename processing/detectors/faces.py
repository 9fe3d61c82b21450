"""Faces: MediaPipe BlazeFace, full-range model, shipped in the mediapipe wheel.

Chosen by measurement (`python -m benchmarks.detectors`, recorded in docs/PERFORMANCE.md), on
one core, images fitted to 1024 px: the full-range model takes ~4.5 ms per image and found
every face but one (a 47 px face) with no false face; OpenCV's Haar cascade took 55-725 ms per
image and reported 4 false faces in 3 images; BlazeFace's short-range model (~1.5 ms) only
sees close-ups and missed 5 of 7 faces (both in a two-person image, both benchmark photos, the
small one).
Limit: the whole image is scaled to 192 px for the model, so small faces are missed: measured
with the astronaut pasted into a 1024x576 image, a face 57 px wide was found (0.71) and one 47
px wide was not, i.e. faces narrower than about 1/18 of the long side are missed.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from processing.detectors._frame import Frame, frame_of
from processing.detectors._mediapipe import import_solution, require_model, thread_graph

MIN_CONFIDENCE = 0.5
_MODEL = "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"


def _build() -> Any:
    require_model(_MODEL)
    return import_solution("face_detection").FaceDetection(
        model_selection=1, min_detection_confidence=MIN_CONFIDENCE
    )


def detect_faces(image: Image.Image) -> dict[str, Any]:
    return {"faces": [dict(face, box=list(face["box"])) for face in find_faces(frame_of(image))]}


def find_faces(frame: Frame) -> list[dict[str, Any]]:
    """Faces in the frame, most confident first; computed once per frame (people reuse it)."""
    if "faces" not in frame.memo:
        result = thread_graph("faces", _build).process(frame.rgb)
        height, width = frame.rgb.shape[:2]
        faces = []
        for detection in result.detections or ():
            rel = detection.location_data.relative_bounding_box
            box = pixel_box(rel.xmin, rel.ymin, rel.width, rel.height, width, height)
            if box is not None:
                faces.append({"box": box, "confidence": round(float(detection.score[0]), 3)})
        faces.sort(key=lambda face: -face["confidence"])
        frame.memo["faces"] = faces
    return frame.memo["faces"]


def pixel_box(x: float, y: float, w: float, h: float, width: int, height: int) -> list[int] | None:
    """Relative [x, y, w, h] -> pixel [x, y, w, h] clipped to the image; None if nothing left."""
    left = min(max(round(x * width), 0), width)
    top = min(max(round(y * height), 0), height)
    right = min(max(round((x + w) * width), 0), width)
    bottom = min(max(round((y + h) * height), 0), height)
    if right <= left or bottom <= top:
        return None
    return [left, top, right - left, bottom - top]
