"""run_steps(): the stages chained in the platform's order."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image, ImageChops

from processing.encode import encode
from processing.errors import InvalidStep, UnsupportedFormat
from processing.filters import validate_steps
from processing.loader import open_image
from processing.pipeline import PipelineResult, run_steps
from processing.resize import fit_within
from processing.watermark import WatermarkOptions

from .images import decode, sample_bytes, save


def test_a_12_mp_jpeg_end_to_end(big_jpeg: bytes) -> None:
    result = run_steps(big_jpeg, detect=False)
    assert isinstance(result, PipelineResult)
    assert (result.format, result.width, result.height) == ("JPEG", 1024, 768)
    out = decode(result.data)
    assert out.format == "JPEG" and out.size == (1024, 768)
    assert result.detections == {}


def test_without_steps_or_watermark_it_is_exactly_the_stages_in_a_row(big_jpeg: bytes) -> None:
    result = run_steps(big_jpeg, watermark_options=None, detect=False, quality=80)
    expected = encode(fit_within(open_image(big_jpeg, box=(1024, 1024))), "JPEG", 80)
    assert result.data == expected


def test_watermark_is_applied_by_default(big_jpeg: bytes) -> None:
    plain = decode(run_steps(big_jpeg, watermark_options=None, detect=False).data)
    marked = decode(run_steps(big_jpeg, detect=False).data)
    left, top, right, bottom = ImageChops.difference(plain, marked).getbbox()
    assert left > 512 and top > 576 - 100  # bottom-right corner only (JPEG noise aside)


def test_steps_run_and_may_be_raw(big_jpeg: bytes) -> None:
    result = run_steps(
        big_jpeg,
        steps=["grayscale", {"name": "rotate", "params": {"angle": 90}}],
        watermark_options=None,
        detect=False,
        output_format="png",
    )
    out = np.asarray(decode(result.data)).astype(int)
    assert (result.format, result.width, result.height) == ("PNG", 768, 1024)
    assert (out[..., 0] == out[..., 1]).all()


def test_bad_steps_fail_before_any_decoding() -> None:
    with pytest.raises(InvalidStep, match=r"^steps\[0\] blur: radius must be between 0 and 50"):
        run_steps(b"", steps=[{"name": "blur", "params": {"radius": 80}}], detect=False)


def test_bad_input_raises_its_typed_error() -> None:
    with pytest.raises(UnsupportedFormat, match=r"^unsupported format \(PDF\)$"):
        run_steps(b"%PDF-1.4 not a photo", detect=False)


def test_bad_output_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported output format 'gif'"):
        run_steps(sample_bytes("rocket.jpg"), output_format="gif", detect=False)


def test_alpha_survives_to_a_png_output() -> None:
    image = Image.new("RGBA", (200, 100), (0, 128, 255, 0))
    image.paste((0, 128, 255, 255), (0, 0, 100, 100))
    result = run_steps(save(image, "PNG"), output_format="PNG", detect=False)
    out = decode(result.data)
    assert out.mode == "RGBA"
    assert out.getpixel((10, 10))[3] == 255 and out.getpixel((150, 10))[3] == 0


def test_detection_sees_the_resized_photo_before_filters_and_watermark(
    big_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Image.Image] = []

    def fake_detect(image: Image.Image, detectors=None) -> dict:
        seen.append(image.copy())
        return {"faces": [], "labels": ["fake"]}

    monkeypatch.setattr(sys.modules["processing.pipeline"], "run_detectors", fake_detect)
    result = run_steps(big_jpeg, steps=validate_steps(["invert"]))
    assert result.detections == {"faces": [], "labels": ["fake"]}
    (image,) = seen
    resized = fit_within(open_image(big_jpeg, box=(1024, 1024)))
    assert image.size == (1024, 768)
    assert image.tobytes() == resized.tobytes(), "not inverted, not watermarked"


def test_real_detection_runs_on_the_astronaut() -> None:
    result = run_steps(sample_bytes("astronaut.png"), watermark_options=WatermarkOptions())
    assert len(result.detections["faces"]) == 1
