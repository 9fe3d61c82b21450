"""The package exposes the contract (docs/processing-contract.md) and its errors and limits
behave as documented."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import processing
from processing.limits import DEFAULT_LIMITS, Limits, format_bytes, format_megapixels

CONTRACT_NAMES = [
    "ImageError", "UnsupportedFormat", "CorruptImage", "ImageTooLarge", "TooManyFrames",
    "InvalidStep", "Limits", "DEFAULT_LIMITS", "ProbeResult", "probe", "open_image",
    "DEFAULT_BOX", "fit_within", "resize_bytes", "WatermarkOptions", "watermark", "detect",
    "register_detector", "detector_names", "Step", "validate_steps", "apply_steps",
    "filter_catalogue", "encode", "media_type", "extension", "PipelineResult", "run_steps",
    "Plan", "check_plan", "run_filters", "run_steps_isolated", "WorkStopped", "WorkCancelled",
    "WorkTimedOut", "configure_isolation", "shutdown_isolation",
]


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_contract_names_are_importable_from_the_package(name: str) -> None:
    assert hasattr(processing, name)
    assert name in processing.__all__


def test_detect_is_the_function_not_the_module() -> None:
    assert callable(processing.detect) and not inspect.ismodule(processing.detect)


def test_signatures_match_the_contract() -> None:
    def params(fn) -> list[str]:
        return list(inspect.signature(fn).parameters)

    assert params(processing.probe) == ["data", "limits"]
    assert params(processing.open_image) == ["data", "box", "limits"]
    assert params(processing.fit_within) == ["image", "box"]
    assert params(processing.resize_bytes) == ["data", "box", "limits"]
    assert params(processing.watermark) == ["image", "options"]
    assert params(processing.encode) == ["image", "format", "quality"]
    assert params(processing.check_plan) == ["width", "height", "steps", "limits", "box"]
    assert params(processing.run_filters) == [
        "source", "steps", "deadline_s", "should_stop", "poll_s", "limits",
    ]
    assert params(processing.run_steps_isolated) == params(processing.run_filters)
    assert params(processing.apply_steps) == ["image", "steps", "limits", "before_step"]
    assert params(processing.run_steps) == [
        "data", "steps", "box", "watermark_options", "output_format", "quality", "limits",
        "detect",
    ]
    assert [f.name for f in dataclasses.fields(processing.ProbeResult)] == [
        "format", "width", "height", "frames", "mime",
    ]
    assert [f.name for f in dataclasses.fields(processing.PipelineResult)] == [
        "data", "format", "width", "height", "detections",
    ]
    assert processing.WatermarkOptions() == processing.WatermarkOptions(
        text="© Photopipe", logo=None, position="bottom-right", opacity=0.6, scale=0.05
    )


def test_error_hierarchy() -> None:
    for error in (
        processing.UnsupportedFormat,
        processing.CorruptImage,
        processing.ImageTooLarge,
        processing.TooManyFrames,
    ):
        assert issubclass(error, processing.ImageError)
    assert issubclass(processing.InvalidStep, ValueError)
    for stopped in (processing.WorkCancelled, processing.WorkTimedOut):
        assert issubclass(stopped, processing.WorkStopped)
        assert not issubclass(stopped, processing.ImageError), "not the image's fault"
    assert not issubclass(processing.InvalidStep, processing.ImageError)
    codes = {e.code for e in (processing.UnsupportedFormat, processing.CorruptImage,
                              processing.ImageTooLarge, processing.TooManyFrames)}
    assert len(codes) == 4


def test_default_limits() -> None:
    assert Limits(max_bytes=50 * 1024 * 1024, max_pixels=50_000_000, max_frames=1000,
                  max_work_ms=20_000, accept_damaged=False) == DEFAULT_LIMITS
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_pixels = 1  # type: ignore[misc]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_limits_must_be_positive_integers(bad: object) -> None:
    with pytest.raises(ValueError, match="Limits.max_pixels must be a positive integer"):
        Limits(max_pixels=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pixels", "text"),
    [(50_000_000, "50"), (89_478_485, "89.5"), (100_000, "0.1"), (12_345, "0.0123")],
)
def test_megapixels_in_messages(pixels: int, text: str) -> None:
    assert format_megapixels(pixels) == text


@pytest.mark.parametrize(
    ("size", "round_up", "text"),
    [
        (50 * 1024 * 1024, False, "50 MB"),
        (50 * 1024 * 1024 + 1, True, "50.1 MB"),
        (1536, False, "1.5 KB"),
        (900, False, "900 bytes"),
    ],
)
def test_byte_sizes_in_messages(size: int, round_up: bool, text: str) -> None:
    assert format_bytes(size, round_up=round_up) == text
