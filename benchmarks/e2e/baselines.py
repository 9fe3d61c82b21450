"""The comparisons: thumbor in its own virtualenv, the naive sequential loop, and our chain's
CPU per image in this process."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.e2e import procs

THUMBOR_REQUIREMENT = "thumbor[opencv]==7.8.0"
# fit-in 1024 box (no crop), smart (thumbor's face detector, OpenCV Haar), our watermark text
# as a PNG stamped bottom-right, JPEG q85: the work our default plan does.
THUMBOR_PATH = "/unsafe/fit-in/1024x1024/smart/filters:watermark(wm.png,-10,-10,0)/{name}"
THUMBOR_CONF = """\
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = {root!r}
# No storage: every request loads the file and runs detection, as every upload of ours does.
STORAGE = 'thumbor.storages.no_storage'
ENGINE = 'thumbor.engines.pil'
DETECTORS = ['thumbor.detectors.face_detector']
ALLOW_UNSAFE_URL = True
QUALITY = 85
"""


def ensure_thumbor(venv: Path) -> Path:
    """thumbor in its own virtualenv (its Pillow, numpy and OpenCV differ from ours).

    ``thumbor[opencv]``: plain thumbor pulls OpenCV 5, whose missing Haar cascades break the
    face detector.
    """
    binary = venv / "bin" / "thumbor"
    if not binary.exists():
        print(f"installing {THUMBOR_REQUIREMENT} into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", THUMBOR_REQUIREMENT], check=True
        )
    return binary


def write_watermark(path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font_file = Path(__file__).resolve().parents[2] / "processing/fonts/DejaVuSans-Bold.ttf"
    font = ImageFont.truetype(str(font_file), 29)
    stamp = Image.new("RGBA", (260, 40), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).text((0, 0), "© Photopipe", font=font, fill=(255, 255, 255, 153))
    stamp.save(path)


class Thumbor:
    def __init__(self, venv: Path, images: Path, work: Path, processes: int = 2) -> None:
        binary = ensure_thumbor(venv)
        write_watermark(images / "wm.png")
        conf = work / "thumbor.conf"
        conf.write_text(THUMBOR_CONF.format(root=str(images)))
        self.port = procs.free_port()
        self.server = procs.Started(
            "thumbor", [str(binary), "--port", str(self.port), "--conf", str(conf),
                        "--processes", str(processes), "-l", "warning"],
            env={"PATH": "/usr/bin:/bin"}, log_dir=work, cwd=work,
        )
        procs.wait_for_port(self.port, 60, self.server.proc)

    def get(self, name: str) -> float:
        started = time.perf_counter()
        response = requests.get(
            f"http://127.0.0.1:{self.port}" + THUMBOR_PATH.format(name=name), timeout=120
        )
        if response.status_code != 200 or len(response.content) < 10_000:
            raise RuntimeError(f"thumbor answered {response.status_code}: {response.text[:200]}")
        return time.perf_counter() - started

    def throughput(self, name: str, count: int, clients: int) -> dict[str, float]:
        for _ in range(4):
            self.get(name)
        tree = procs.descendants(self.server.pid)
        cpu_before, started = procs.cpu_seconds(tree), time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda _: self.get(name), range(count)))
        wall = time.perf_counter() - started
        cpu = procs.cpu_seconds(tree) - cpu_before
        return {"images_per_s": count / wall, "cpu_ms_per_image": cpu * 1000 / count}

    def stop(self) -> None:
        self.server.stop()


def naive_with_haar(data: bytes) -> bytes:
    """The loop the seed projects write: full decode, thumbnail(), drawn text, OpenCV's Haar
    face cascade on the thumbnail, encode; one image after another."""
    import cv2
    import numpy

    from benchmarks import naive

    image = naive.decode_resize(data)
    grey = cv2.cvtColor(numpy.asarray(image), cv2.COLOR_RGB2GRAY)
    _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5)
    return naive.encode(naive.watermark(image))


# One cascade per thread: benchmarks/e2e/seeds.py runs this loop from many threads at once,
# and OpenCV does not promise that one CascadeClassifier may detect in two threads together.
_CASCADE = threading.local()


def _cascade():  # noqa: ANN202 - cv2.CascadeClassifier
    import cv2

    if not hasattr(_CASCADE, "classifier"):
        _CASCADE.classifier = cv2.CascadeClassifier(
            cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        )
    return _CASCADE.classifier


def naive_throughput(data: bytes, count: int) -> float:
    naive_with_haar(data)
    started = time.perf_counter()
    for _ in range(count):
        naive_with_haar(data)
    return count / (time.perf_counter() - started)


def chain_cpu_ms(data: bytes, count: int) -> float:
    """CPU of processing's whole chain (resize, detect, watermark, encode) per image, this
    process, after a warm-up: what a worker could not do with less."""
    from benchmarks import ours

    ours.warm_up(data)
    ours.chain(data)
    started = time.process_time()
    for _ in range(count):
        ours.chain(data)
    return (time.process_time() - started) * 1000 / count
