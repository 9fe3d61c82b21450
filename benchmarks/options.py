"""What would it take? The 4K chain with alternative stage choices, beside the naive chain.

    python -m benchmarks.options [--runs N]

Not part of `make bench`: a decision aid. Each variant is the real chain (decode and fit the
box, watermark, detect on the resized image, encode) with one choice changed: how the JPEG is
decoded and resampled, the JPEG encoder settings, and which detectors run. The Pillow variants
decode with the JPEG draft (open_image) and then resample.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks import naive
from benchmarks._cpu import interleaved_medians, pin_one_core
from processing.detect import detect, detector_names
from processing.loader import open_image
from processing.resize import DEFAULT_BOX, resize_bytes
from processing.watermark import WatermarkOptions, watermark

IMAGE = Path(__file__).resolve().parent / "data" / "bench_4k.jpg"
OPTIONS = WatermarkOptions()


Resize = Callable[[bytes], Image.Image]


def pillow_resize(resample: Image.Resampling) -> Resize:
    def resize(data: bytes) -> Image.Image:
        image = open_image(data, box=DEFAULT_BOX)
        return image.resize(naive_target(image.size), resample, reducing_gap=2.0)

    return resize


def cv2_resize(interpolation: int) -> Resize:
    def resize(data: bytes) -> Image.Image:
        image = open_image(data, box=DEFAULT_BOX)
        array = cv2.resize(np.asarray(image), naive_target(image.size), interpolation=interpolation)
        return Image.fromarray(array)

    return resize


def naive_target(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(DEFAULT_BOX[0] / size[0], DEFAULT_BOX[1] / size[1], 1.0)
    return round(size[0] * scale), round(size[1] * scale)


def jpeg(**settings: bool) -> Callable[[Image.Image], bytes]:
    def encode(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85, **settings)
        return buffer.getvalue()

    return encode


RESIZES: dict[str, Resize] = {
    "libvips stream, lanczos3 (now)": resize_bytes,
    "Pillow HAMMING (before)": pillow_resize(Image.Resampling.HAMMING),
    "Pillow LANCZOS": pillow_resize(Image.Resampling.LANCZOS),
    "OpenCV INTER_LINEAR": cv2_resize(cv2.INTER_LINEAR),
}
ENCODES = {
    "progressive+optimize (now)": jpeg(progressive=True, optimize=True),
    "optimize": jpeg(optimize=True),
    "baseline": jpeg(),
}
WITHOUT_PEOPLE = [name for name in detector_names() if name != "people"]
DETECTS: dict[str, list[str] | None] = {"all": None, "without people": WITHOUT_PEOPLE, "none": []}


def chain(resize: Resize, encode: Callable, detectors: list[str] | None) -> Callable[[], bytes]:
    data = IMAGE.read_bytes()

    def run() -> bytes:
        resized = resize(data)
        marked = watermark(resized, OPTIONS)
        if detectors != []:
            detect(resized, detectors)
        return encode(marked)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    pin_one_core()
    data = IMAGE.read_bytes()
    variants: dict[str, Callable[[], object]] = {"naive": lambda: naive.chain(data)}
    for resize_name, resize in RESIZES.items():
        for encode_name, encode in ENCODES.items():
            for detect_name, detectors in DETECTS.items():
                name = f"{resize_name} | {encode_name} | detect {detect_name}"
                variants[name] = chain(resize, encode, detectors)
    resizes: dict[str, Callable[[], object]] = {"naive": lambda: naive.decode_resize(data)}
    for resize_name, resize in RESIZES.items():
        resizes[resize_name] = lambda resize=resize: resize(data)
    medians = interleaved_medians(resizes, runs)
    naive_ms = medians.pop("naive")
    print(f"4K decode+resize, one core, medians of {runs}; naive {naive_ms:.1f} ms")
    for name, value in medians.items():
        print(f"{name:<72}{value:>8.1f}{naive_ms / value:>11.2f}x")

    medians = interleaved_medians(variants, runs)
    naive_ms = medians.pop("naive")
    print()
    print(f"4K chain variants, one core, medians of {runs}; naive chain {naive_ms:.1f} ms")
    print(f"{'resize | encode | detect':<72}{'ms':>8}{'naive/this':>12}")
    for name, value in medians.items():
        print(f"{name:<72}{value:>8.1f}{naive_ms / value:>11.2f}x")


if __name__ == "__main__":
    main()
