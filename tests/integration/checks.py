"""Checks on a finished job's result shared by the stack and embedded-mode tests."""

import io

import numpy as np
from PIL import Image

import processing


def assert_watermarked_resize_of(result: bytes, original: bytes) -> Image.Image:
    """The result is a JPEG within 1024x1024 that differs from the plain resized original
    in its bottom-right corner (the watermark) and matches it elsewhere."""
    image = Image.open(io.BytesIO(result))
    assert image.format == "JPEG"
    assert max(image.size) <= 1024
    plain = processing.resize_bytes(original).convert("RGB")
    assert plain.size == image.size
    got = np.asarray(image.convert("RGB"), dtype=np.int16)
    want = np.asarray(plain, dtype=np.int16)
    height, width = want.shape[:2]
    corner = np.abs(got - want)[height * 3 // 4 :, width // 2 :].mean()
    elsewhere = np.abs(got - want)[: height // 2, : width // 2].mean()
    assert elsewhere < 3, f"image changed away from the watermark (mean diff {elsewhere:.1f})"
    assert corner > elsewhere + 2, f"no visible watermark (corner diff {corner:.1f})"
    return image
