"""Photopipe's image library: pure functions over bytes and PIL images.

Nothing here imports Django, the database, the broker or storage (tests/processing/
test_no_django.py proves it). The platform uses only the names re-exported below; the
contract is docs/processing-contract.md.
"""

from .detect import detect, detector_names, register_detector
from .encode import (
    encode,
    encode_intermediate,
    extension,
    media_type,
    normalise_format,
    output_format_names,
)
from .errors import (
    CorruptImage,
    ImageError,
    ImageTooLarge,
    InvalidStep,
    TooManyFrames,
    UnsupportedFormat,
)
from .filters import FILTERS, Step, apply_steps, filter_catalogue, validate_steps
from .isolation import (
    WorkCancelled,
    WorkStopped,
    WorkTimedOut,
    configure_isolation,
    run_filters,
    run_steps_isolated,
    shutdown_isolation,
)
from .limits import DEFAULT_LIMITS, Limits
from .loader import open_image
from .pipeline import PipelineResult, run_steps
from .plan import Plan, check_plan
from .probe import ProbeResult, check_byte_size, probe
from .resize import DEFAULT_BOX, fit_within, resize_bytes
from .watermark import WatermarkOptions, watermark

__all__ = [
    "DEFAULT_BOX",
    "DEFAULT_LIMITS",
    "FILTERS",
    "CorruptImage",
    "ImageError",
    "ImageTooLarge",
    "InvalidStep",
    "Limits",
    "PipelineResult",
    "Plan",
    "ProbeResult",
    "Step",
    "TooManyFrames",
    "UnsupportedFormat",
    "WatermarkOptions",
    "WorkCancelled",
    "WorkStopped",
    "WorkTimedOut",
    "apply_steps",
    "check_byte_size",
    "check_plan",
    "configure_isolation",
    "detect",
    "detector_names",
    "encode",
    "encode_intermediate",
    "extension",
    "filter_catalogue",
    "fit_within",
    "media_type",
    "normalise_format",
    "open_image",
    "output_format_names",
    "probe",
    "register_detector",
    "resize_bytes",
    "run_filters",
    "run_steps",
    "run_steps_isolated",
    "shutdown_isolation",
    "validate_steps",
    "watermark",
]
