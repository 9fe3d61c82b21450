"""People: BlazePose's person detector, plus every face it did not account for.

MediaPipe's `Pose` solution runs a person detector and then a landmark model on the first
person only: ~28 ms per image when someone is present (measured, one core), more than the whole
detection budget, and never more than one person. So the landmark model is not used:
1. The person detector alone (`PoseDetectionCpu`, the subgraph MediaPipe's own pose graph runs;
   it and its model ship in the mediapipe==0.10.14 wheel) takes ~10.5 ms. Its keypoints give the
   body's centre (mid-hip) and the radius of the circle enclosing the whole body (BlazePose's
   "Vitruvian man" alignment); the box is the square around that circle, clipped to the image.
2. It is not good at a second person: in a two-person test image the other person scored 0.43,
   under the 0.5 threshold, while lowering the threshold to 0.3 brought a false person into the
   motorcycle photo. A detected face is better evidence, so each face that no detected person
   claims (the face nearest a person's shoulder centre, inside its upper-body circle) is a person
   too, with a body box estimated from the face (3 face widths wide, 8 face heights tall).
The default, `detect_people`, is a cascade: when faces are found they already prove people and
give their count, so the ~11 ms person detector runs only on images without a detected face
(where it finds people too small or too turned away for the face detector). The cost: on a
photo with faces, an extra person whose face is hidden is not counted. `detect_people_thorough`
always runs both (~11 ms more on photos with faces) and `detect_people_from_faces` never runs the
person detector; a deployment picks one with
`register_detector("people", detect_people_thorough, replace=True)`.
Limits: a person needs a visible head (seen from behind, or head out of frame: missed), and the
boxes are estimates of the body's extent, not tight outlines.
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image

from processing.detectors._frame import frame_of
from processing.detectors._mediapipe import import_mediapipe, require_model, thread_graph
from processing.detectors.faces import find_faces, pixel_box

MIN_CONFIDENCE = 0.5
_MODEL = "mediapipe/modules/pose_detection/pose_detection.tflite"
_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""
# Body box from a face box, in face widths / heights (a head is ~1/7.5 of a standing body;
# BlazeFace's box runs from the brows to the chin, a little less than the head).
_BODY_WIDTH_IN_FACES = 3.0
_BODY_HEIGHT_IN_FACES = 8.0
_HEAD_ABOVE_FACE = 0.5


def _build() -> Any:
    require_model(_MODEL)
    import_mediapipe()
    from mediapipe.python.solution_base import PacketDataType, SolutionBase

    return SolutionBase(
        graph_config=_GRAPH,
        calculator_params={
            "posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": MIN_CONFIDENCE
        },
        outputs=["detections"],
        stream_type_hints={"detections": PacketDataType.PROTO_LIST},
    )


def detect_people(image: Image.Image) -> dict[str, Any]:
    """Faces when there are any, else BlazePose's person detector (see the module docstring)."""
    if find_faces(frame_of(image)):
        return detect_people_from_faces(image)
    return detect_people_thorough(image)


def detect_people_thorough(image: Image.Image) -> dict[str, Any]:
    """The person detector on every image, plus each face no detected person claims."""
    frame = frame_of(image)
    height, width = frame.rgb.shape[:2]
    unclaimed = list(find_faces(frame))
    people = []
    for detection in thread_graph("people", _build).process(frame.rgb).detections or ():
        location = detection.location_data
        box = _body_box(location, width, height)
        if box is None:
            continue
        people.append({"box": box, "confidence": round(float(detection.score[0]), 3)})
        claimed = _claimed_face(location, unclaimed, width, height)
        if claimed is not None:
            unclaimed.remove(claimed)
    for face in unclaimed:
        box = _body_box_from_face(face["box"], width, height)
        if box is not None:
            people.append({"box": box, "confidence": face["confidence"]})
    people.sort(key=lambda person: -person["confidence"])
    return {"people": people}


def detect_people_from_faces(image: Image.Image) -> dict[str, Any]:
    """People from detected faces only: cheaper, misses people whose face is not found."""
    frame = frame_of(image)
    height, width = frame.rgb.shape[:2]
    people = []
    for face in find_faces(frame):
        box = _body_box_from_face(face["box"], width, height)
        if box is not None:
            people.append({"box": box, "confidence": face["confidence"]})
    return {"people": people}


def _body_box(location: Any, width: int, height: int) -> list[int] | None:
    """Square around the body-enclosing circle, joined with the detector's own box."""
    rel = location.relative_bounding_box
    left, top = rel.xmin, rel.ymin
    right, bottom = rel.xmin + rel.width, rel.ymin + rel.height
    circle = _circle(location, 0, width, height)
    if circle is not None:
        cx, cy, radius = circle
        left = min(left, (cx - radius) / width)
        right = max(right, (cx + radius) / width)
        top = min(top, (cy - radius) / height)
        bottom = max(bottom, (cy + radius) / height)
    return pixel_box(left, top, right - left, bottom - top, width, height)


def _circle(
    location: Any, first: int, width: int, height: int
) -> tuple[float, float, float] | None:
    """Pixel circle from keypoints `first` (centre) and `first + 1` (on the circle).

    Keypoints 0, 1: mid-hip and the whole body's circle; 2, 3: mid-shoulder and the upper
    body's. Pixels, because relative x and y have different scales on a non-square image.
    """
    keypoints = location.relative_keypoints
    if len(keypoints) < first + 2:
        return None
    cx, cy = keypoints[first].x * width, keypoints[first].y * height
    edge = keypoints[first + 1]
    return cx, cy, math.hypot(edge.x * width - cx, edge.y * height - cy)


def _claimed_face(
    location: Any, faces: list[dict[str, Any]], width: int, height: int
) -> dict[str, Any] | None:
    """The face nearest this person's shoulder centre, if inside the upper-body circle."""
    circle = _circle(location, 2, width, height)
    if circle is None:
        return None
    cx, cy, radius = circle
    best, best_distance = None, radius
    for face in faces:
        x, y, w, h = face["box"]
        distance = math.hypot(x + w / 2 - cx, y + h / 2 - cy)
        if distance <= best_distance:
            best, best_distance = face, distance
    return best


def _body_box_from_face(face: list[int], width: int, height: int) -> list[int] | None:
    x, y, w, h = face
    body_width = _BODY_WIDTH_IN_FACES * w
    top = y - _HEAD_ABOVE_FACE * h
    return pixel_box(
        (x + w / 2 - body_width / 2) / width,
        top / height,
        body_width / width,
        _BODY_HEIGHT_IN_FACES * h / height,
        width,
        height,
    )
