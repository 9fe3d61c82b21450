"""resize_bytes' JPEG path (libvips decodes at the DCT scale straight into lanczos3) and the
libvips resampling behind fit_within: same pixels as the Pillow path, same errors."""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from processing import _vips, loader, resize
from processing._geometry import dct_shrink, fitted_size
from processing.errors import CorruptImage
from processing.limits import Limits
from processing.loader import open_image
from processing.resize import fit_within, resize_bytes

from .images import decode, oriented_jpeg, photo, sample_bytes, save, upright_card
from .test_loader import assert_red_block_top_left


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.float64)


def pillow_lanczos(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


@pytest.fixture
def paths_taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records, in order, whether libvips tried to stream the JPEG and whether Pillow decoded it."""
    taken: list[str] = []
    streamed, decoded = resize.jpeg_fitted, resize.decode

    def stream(*args: object, **kwargs: object) -> Image.Image:
        taken.append("libvips")
        return streamed(*args, **kwargs)

    def decode_with_pillow(*args: object, **kwargs: object) -> Image.Image:
        taken.append("pillow")
        return decoded(*args, **kwargs)

    monkeypatch.setattr(resize, "jpeg_fitted", stream)
    monkeypatch.setattr(resize, "decode", decode_with_pillow)
    return taken


def test_a_jpeg_streams_and_matches_the_pillow_path(
    big_jpeg: bytes, paths_taken: list[str]
) -> None:
    streamed = resize_bytes(big_jpeg)
    assert paths_taken == ["libvips"]
    drafted = open_image(big_jpeg, box=(1024, 1024))  # 2000x1500, the same DCT scale
    assert streamed.size == (1024, 768) and streamed.mode == "RGB"
    assert not streamed.info
    assert np.abs(pixels(streamed) - pixels(pillow_lanczos(drafted, (1024, 768)))).mean() < 1.0


def test_streamed_resize_is_sharper_than_hamming_was(big_jpeg: bytes) -> None:
    # Reference: the full-resolution decode resized with Pillow LANCZOS.
    reference = pixels(pillow_lanczos(open_image(big_jpeg), (1024, 768)))
    drafted = open_image(big_jpeg, box=(1024, 1024))
    hamming = drafted.resize((1024, 768), Image.Resampling.HAMMING)
    streamed_error = np.abs(pixels(resize_bytes(big_jpeg)) - reference).mean()
    hamming_error = np.abs(pixels(hamming) - reference).mean()
    assert streamed_error < 0.8 * hamming_error


@pytest.mark.parametrize("orientation", range(1, 9))
def test_streamed_jpeg_is_turned_upright(orientation: int, paths_taken: list[str]) -> None:
    data = oriented_jpeg(orientation, card=upright_card((600, 400)))
    image = resize_bytes(data, box=(300, 300))
    assert paths_taken == ["libvips"]
    assert image.size == (300, 200)
    assert_red_block_top_left(image)


def test_streamed_jpeg_gets_its_colour_profile_applied(paths_taken: list[str]) -> None:
    data = sample_bytes("rocket.jpg")  # 640x427 with an Adobe RGB profile
    assert decode(data).info.get("icc_profile")  # precondition
    streamed = resize_bytes(data, box=(320, 320))
    assert paths_taken == ["libvips"]
    converted = pillow_lanczos(open_image(data), streamed.size)  # sRGB first, then resized
    assert np.abs(pixels(streamed) - pixels(converted)).mean() < 1.5
    unconverted = pillow_lanczos(decode(data).convert("RGB"), streamed.size)
    assert np.abs(pixels(streamed) - pixels(unconverted)).mean() > 2.0


def test_grey_jpeg_streams_and_becomes_rgb(paths_taken: list[str]) -> None:
    data = save(photo((800, 600)).convert("L"), "JPEG", quality=90)
    image = resize_bytes(data, box=(400, 400))
    assert paths_taken == ["libvips"]
    assert image.mode == "RGB" and image.size == (400, 300)
    red, green, blue = image.split()
    assert red.tobytes() == green.tobytes() == blue.tobytes()


def test_cmyk_jpeg_takes_the_pillow_path(paths_taken: list[str]) -> None:
    card = Image.new("RGB", (600, 400), (200, 30, 30))
    image = resize_bytes(save(card.convert("CMYK"), "JPEG", quality=95), box=(300, 300))
    assert paths_taken == ["pillow"]
    assert image.mode == "RGB" and image.size == (300, 200)
    r, g, b = image.getpixel((150, 100))
    assert r > 150 and g < 80 and b < 80


def with_restart_markers_misnumbered(count: int) -> bytes:
    """A 2400x1600 JPEG with a restart marker after every block, `count` of them misnumbered:
    libjpeg warns and resynchronises at each one."""
    data = bytearray(save(photo((2400, 1600)), "JPEG", quality=90, restart_marker_blocks=1))
    scan = data.index(b"\xff\xda")
    markers = [m.start() + 1 for m in re.finditer(rb"\xff[\xd0-\xd7]", bytes(data[scan:]))]
    for offset in random.Random(count).sample(markers, count):
        data[scan + offset] = 0xD0 + (data[scan + offset] - 0xD0 + 3) % 8
    return bytes(data)


def test_a_damaged_jpeg_pillow_recovers_from_is_accepted(paths_taken: list[str]) -> None:
    # libvips gives up after ~100 warnings; Pillow's decoder resynchronises and carries on.
    data = with_restart_markers_misnumbered(150)
    image = resize_bytes(data)
    assert paths_taken == ["libvips", "pillow"]
    assert image.size == (1024, 683) and image.mode == "RGB"
    expected = fit_within(open_image(data, box=(1024, 1024)))
    assert np.abs(pixels(image) - pixels(expected)).mean() < 1.0


def test_a_jpeg_pillow_refuses_is_refused_with_its_reason(
    big_jpeg: bytes, paths_taken: list[str]
) -> None:
    # A marker a third of the way into the scan: libvips would return an image, two thirds
    # grey; libjpeg warns, so Pillow judges, and refuses it as before.
    scan = big_jpeg.index(b"\xff\xda")
    at = big_jpeg.index(b"\xff\x00", scan + (len(big_jpeg) - scan) // 3)
    damaged = big_jpeg[:at] + b"\xff\xc4" + big_jpeg[at + 2 :]
    with pytest.raises(CorruptImage, match=r"^corrupt image \(truncated JPEG\)$"):
        resize_bytes(damaged)
    assert paths_taken == ["libvips", "pillow"]
    with pytest.raises(CorruptImage, match=r"^corrupt image \(truncated JPEG\)$"):
        open_image(damaged, box=(1024, 1024))


def test_a_cut_jpeg_with_its_end_marker_put_back_is_refused_on_both_paths(
    big_jpeg: bytes, paths_taken: list[str]
) -> None:
    # Without the end marker the header check refuses it (test_probe); with it, libjpeg only
    # warns and fills the missing rows with grey: refused as damaged on both paths alike
    # (more in test_damaged), and decoded alike when damaged files are accepted.
    cut = big_jpeg[: len(big_jpeg) // 2] + b"\xff\xd9"
    message = r"^corrupt image \(truncated JPEG: the data ends before the image is complete\)$"
    with pytest.raises(CorruptImage, match=message):
        resize_bytes(cut)
    assert paths_taken == ["libvips", "pillow"]
    with pytest.raises(CorruptImage, match=message):
        open_image(cut, box=(1024, 1024))
    accepting = Limits(accept_damaged=True)
    image = resize_bytes(cut, limits=accepting)
    expected = fit_within(open_image(cut, box=(1024, 1024), limits=accepting))
    assert np.abs(pixels(image) - pixels(expected)).mean() < 1.0


def test_a_layout_the_stream_does_not_take_goes_to_pillow(
    big_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # jpeg_fitted answers None for a layout other than 8-bit grey or colour.
    taken: list[str] = []
    decoded = resize.decode

    def decode(*args: object, **kwargs: object) -> Image.Image:
        taken.append("pillow")
        return decoded(*args, **kwargs)

    monkeypatch.setattr(resize, "jpeg_fitted", lambda *args: taken.append("libvips"))
    monkeypatch.setattr(resize, "decode", decode)
    assert resize_bytes(big_jpeg).size == (1024, 768)
    assert taken == ["libvips", "pillow"]


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_progressive_jpeg_streams(mode: str, paths_taken: list[str]) -> None:
    data = save(photo((1600, 1200)).convert(mode), "JPEG", quality=90, progressive=True)
    image = resize_bytes(data, box=(800, 800))
    assert paths_taken == ["libvips"]
    assert image.size == (800, 600) and image.mode == "RGB"
    expected = fit_within(open_image(data, box=(800, 800)), (800, 800))
    assert np.abs(pixels(image) - pixels(expected)).mean() < 1.0


def test_a_clean_jpeg_streams_only(big_jpeg: bytes, paths_taken: list[str]) -> None:
    resize_bytes(big_jpeg)
    resize_bytes(sample_bytes("arithmetic.jpg"), box=(600, 600))
    assert paths_taken == ["libvips", "libvips"]


@pytest.mark.parametrize("box", [(600, 600), (2000, 2000)])
def test_arithmetic_coded_jpegs_decode_on_both_paths(box: tuple[int, int]) -> None:
    # Pillow fed libjpeg's arithmetic decoder 64 kB at a time, which it cannot take.
    data = sample_bytes("arithmetic.jpg")
    assert len(data) > 65536
    image = resize_bytes(data, box=box)
    assert image.size == fitted_size((1200, 800), box)
    assert open_image(data).size == (1200, 800)


def test_a_process_forked_after_libvips_started_resizes_with_pillow(big_jpeg: bytes) -> None:
    # libvips' threads do not survive a fork: a child that used it would wait forever.
    resize_bytes(big_jpeg)  # libvips is started in this process
    expected = pixels(resize_bytes(big_jpeg))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        signal.alarm(60)  # a hang ends the child instead of the test run
        try:
            image = resize_bytes(big_jpeg)
            os.write(write_end, json.dumps([image.size, _vips.usable()]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        result = json.loads(reader.read() or "null")
    os.waitpid(child, 0)
    assert result is not None, "the forked child hung (killed after 60 s) or died"
    size, usable = result
    assert size == [1024, 768] and usable is False
    assert expected.shape == (768, 1024, 3)


def test_a_jpeg_that_fits_is_decoded_without_resampling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resize, "jpeg_fitted", None)
    monkeypatch.setattr(resize, "lanczos", None)
    data = sample_bytes("rocket.jpg")
    assert resize_bytes(data).size == (640, 427)


@pytest.mark.parametrize(
    ("size", "target"),
    [
        ((3840, 2160), (1024, 576)),
        ((4000, 3000), (1024, 768)),
        ((8000, 6000), (1024, 768)),
        ((8000, 6000), (512, 384)),
        ((1100, 600), (1024, 559)),
        ((2047, 1000), (1024, 500)),
        ((2048, 1000), (1024, 500)),
        ((1000, 9000), (114, 1024)),
        ((3000, 4000), (768, 1024)),
    ],
)
def test_dct_shrink_is_the_scale_pillow_drafts(
    size: tuple[int, int], target: tuple[int, int]
) -> None:
    image = Image.open(io.BytesIO(save(Image.new("RGB", size), "JPEG")))
    image.draft("RGB", target)
    shrink = dct_shrink(size, target)
    assert image.size == (-(-size[0] // shrink), -(-size[1] // shrink))


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA"])
def test_libvips_lanczos_matches_pillow_lanczos(mode: str) -> None:
    source = photo((1500, 1000)).convert(mode)
    ours = fit_within(source, (600, 600))
    theirs = pillow_lanczos(source, (600, 400))
    assert ours.mode == mode and ours.size == (600, 400)
    assert np.abs(pixels(ours) - pixels(theirs)).mean() < 0.6


def test_large_reductions_start_with_a_box_reduction(monkeypatch: pytest.MonkeyPatch) -> None:
    handed_to_libvips: list[tuple[int, int]] = []
    original = _vips.lanczos

    def spy(image: Image.Image, size: tuple[int, int]) -> Image.Image:
        handed_to_libvips.append(image.size)
        return original(image, size)

    monkeypatch.setattr(resize, "lanczos", spy)
    image = fit_within(photo((6000, 4000)), (1000, 1000))
    assert image.size == (1000, 667)
    # 6x: a 2x box reduction first (3000x2000), lanczos3 over the last 3x (at least 2x).
    assert handed_to_libvips == [(3000, 2000)]


def test_modes_libvips_does_not_take_go_to_pillow() -> None:
    sixteen = Image.new("I;16", (2000, 1000), 4000)
    assert fit_within(sixteen, (500, 500)).size == (500, 250)


def test_stored_target_is_computed_upright_and_swapped_back() -> None:
    # Stored 4000x3000, shown 3000x4000 (orientation 6): fitted 768x1024 upright.
    assert loader.stored_target((4000, 3000), (1024, 1024), 6) == (1024, 768)
    assert loader.stored_target((3000, 4000), (1024, 1024), 6) == (768, 1024)
    assert loader.stored_target((4000, 3000), (1024, 1024), 1) == (1024, 768)
    assert loader.stored_target((800, 600), (1024, 1024), 1) is None


def test_threads_resize_at_once_with_the_same_result(big_jpeg: bytes) -> None:
    # Workers run jobs in threads; libvips is shared by all of them.
    inputs = [big_jpeg, save(photo((2400, 1600)), "PNG")] * 6
    expected = [resize_bytes(data).tobytes() for data in inputs[:2]] * 6
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda data: resize_bytes(data).tobytes(), inputs))
    assert results == expected
