"""probe(): format sniffed from content, header-only checks, refusals with readable reasons."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import warnings
import zipfile

import pytest
from PIL import Image

from processing.errors import CorruptImage, ImageTooLarge, TooManyFrames, UnsupportedFormat
from processing.limits import MIB, Limits
from processing.loader import open_image
from processing.pipeline import run_steps
from processing.probe import ProbeResult, probe
from processing.resize import resize_bytes

from .images import gif_with_frames, png_header_only, sample_bytes, save, tiff_header_only


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("astronaut.png", ProbeResult("PNG", 512, 512, 1, "image/png")),
        ("rocket.jpg", ProbeResult("JPEG", 640, 427, 1, "image/jpeg")),
        ("page.png", ProbeResult("PNG", 384, 191, 1, "image/png")),
        ("no_time_for_that_tiny.gif", ProbeResult("GIF", 14, 25, 24, "image/gif")),
    ],
)
def test_probe_describes_real_images(name: str, expected: ProbeResult) -> None:
    assert probe(sample_bytes(name)) == expected


def test_gif_frame_count_matches_pillow() -> None:
    data = sample_bytes("no_time_for_that_tiny.gif")
    assert probe(data).frames == Image.open(io.BytesIO(data)).n_frames == 24


@pytest.mark.parametrize(
    ("fmt", "params", "expected_format", "mime"),
    [
        ("WEBP", {"quality": 80}, "WEBP", "image/webp"),
        ("WEBP", {"lossless": True}, "WEBP", "image/webp"),
        ("TIFF", {}, "TIFF", "image/tiff"),
        ("TIFF", {"compression": "tiff_lzw"}, "TIFF", "image/tiff"),
        ("JPEG", {"progressive": True}, "JPEG", "image/jpeg"),
        ("GIF", {}, "GIF", "image/gif"),
    ],
)
def test_probe_sniffs_each_accepted_format(
    fmt: str, params: dict, expected_format: str, mime: str
) -> None:
    data = save(Image.new("RGB", (123, 45), (10, 200, 30)), fmt, **params)
    assert probe(data) == ProbeResult(expected_format, 123, 45, 1, mime)


def test_webp_with_alpha_uses_the_extended_header() -> None:
    data = save(Image.new("RGBA", (300, 200), (1, 2, 3, 100)), "WEBP")
    assert data[12:16] == b"VP8X"
    assert probe(data) == ProbeResult("WEBP", 300, 200, 1, "image/webp")


def _frames(count: int) -> list[Image.Image]:
    return [Image.new("RGB", (16, 8), (40 * i, 255 - 40 * i, 0)) for i in range(count)]


def test_animated_webp_apng_and_multipage_tiff_count_frames() -> None:
    first, *rest = _frames(5)
    webp = save(first, "WEBP", save_all=True, append_images=rest[:2], lossless=True)
    apng = save(first, "PNG", save_all=True, append_images=rest)
    tiff = save(first, "TIFF", save_all=True, append_images=rest[:3])
    assert probe(webp).frames == 3
    assert probe(apng).frames == 5
    assert probe(tiff).frames == 4


# Refusals --------------------------------------------------------------------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return buffer.getvalue()


NOT_IMAGES = {
    "empty": (b"", "empty file"),
    "text": (b"Dear team,\nplease find the photo attached.\n", "unsupported format (text)"),
    "pdf": (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n",
        "unsupported format (PDF)",
    ),
    "zip": (_zip(), "unsupported format (ZIP)"),
    "svg": (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        "unsupported format (SVG)",
    ),
    "svg-with-comment": (b"<!-- logo -->\n<svg width='10'></svg>", "unsupported format (SVG)"),
    "html": (b"<!DOCTYPE html><html><body>hi</body></html>", "unsupported format (HTML)"),
    "gzip": (gzip.compress(b"hello"), "unsupported format (GZIP)"),
    "bmp": (save(Image.new("RGB", (4, 4)), "BMP"), "unsupported format (BMP)"),
    "heic": (
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        "unsupported format (HEIC)",
    ),
    "avif": (
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + bytes(64),
        "unsupported format (AVIF)",
    ),
    "mp4": (
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64),
        "unsupported format (MP4 video)",
    ),
    "binary": (bytes(range(256)) * 4, "unsupported format (unknown data)"),
}


def _run_steps(data: bytes) -> object:
    return run_steps(data, detect=False)


def assert_refused_alike(data: bytes, error: type[Exception], message: str) -> None:
    """probe() (the API), open_image() and resize_bytes() (the workers) and run_steps() (the
    embedded mode) refuse the input the same way."""
    for refuse in (probe, open_image, resize_bytes, _run_steps):
        with pytest.raises(error) as refused:
            refuse(data)
        assert str(refused.value) == message, refuse.__name__


@pytest.mark.parametrize("kind", sorted(NOT_IMAGES))
def test_non_images_are_refused_by_name(kind: str) -> None:
    data, message = NOT_IMAGES[kind]
    assert_refused_alike(data, UnsupportedFormat, message)


def _truncated(fmt: str) -> bytes:
    data = save(Image.open(io.BytesIO(sample_bytes("rocket.jpg"))), fmt)
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (sample_bytes("rocket.jpg")[:60_000], "corrupt image (truncated JPEG)"),
        (sample_bytes("rocket.jpg")[:400], "corrupt image (truncated JPEG)"),  # cut inside headers
        (sample_bytes("rocket.jpg")[:-2], "corrupt image (truncated JPEG)"),  # only the EOI missing
        (_truncated("PNG"), "corrupt image (truncated PNG)"),
        (_truncated("WEBP"), "corrupt image (truncated WebP)"),
        (sample_bytes("no_time_for_that_tiny.gif")[:500], "corrupt image (truncated GIF)"),
    ],
    ids=["jpeg-scan", "jpeg-header", "jpeg-eoi", "png", "webp", "gif"],
)
def test_truncated_files_are_corrupt(data: bytes, message: str) -> None:
    assert_refused_alike(data, CorruptImage, message)


def test_jpeg_with_a_truncated_main_image_but_a_complete_thumbnail_is_corrupt() -> None:
    # The EXIF thumbnail carries its own SOS and EOI: finding "an EOI somewhere" is not enough.
    thumbnail = save(Image.new("RGB", (16, 16), "red"), "JPEG")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    app1 = exif.tobytes() + thumbnail  # the thumbnail rides inside APP1, as cameras do
    data = save(Image.open(io.BytesIO(sample_bytes("rocket.jpg"))), "JPEG", exif=app1)
    assert thumbnail in data
    assert probe(data).format == "JPEG"
    with pytest.raises(CorruptImage, match=r"^corrupt image \(truncated JPEG\)$"):
        probe(data[:-5000])


def test_jpeg_garbage_after_the_magic_is_corrupt() -> None:
    with pytest.raises(CorruptImage, match=r"^corrupt image \(invalid JPEG marker\)$"):
        probe(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x12\x34" * 50)


def test_data_after_the_jpeg_end_is_allowed() -> None:
    # Motion photos append a video after the JPEG's EOI.
    data = sample_bytes("rocket.jpg") + b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    assert probe(data).width == 640
    assert open_image(data).size == (640, 427)


# Size limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [png_header_only, tiff_header_only], ids=["png", "tiff"])
def test_a_30000x30000_header_is_refused_without_decoding(build, no_decoding: list[str]) -> None:
    data = build(30000, 30000)
    assert len(data) < 1000
    message = "image too large: 30000x30000 is over the 50 MP limit"
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge) as probed:
            probe(data)
        with pytest.raises(ImageTooLarge) as opened:
            open_image(data)
        with pytest.raises(ImageTooLarge) as resized:
            resize_bytes(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(probed.value) == str(opened.value) == str(resized.value) == message
    assert peak < 10 * MIB
    assert no_decoding == []


def test_our_pixel_limit_is_a_parameter() -> None:
    data = sample_bytes("astronaut.png")  # 512x512 = 262 144 pixels
    assert probe(data, Limits(max_pixels=262_144)).width == 512
    with pytest.raises(ImageTooLarge) as refused:
        probe(data, Limits(max_pixels=100_000))
    assert str(refused.value) == "image too large: 512x512 is over the 0.1 MP limit"
    with pytest.raises(ImageTooLarge):
        open_image(data, limits=Limits(max_pixels=100_000))


@pytest.mark.parametrize(
    ("size", "pillow_limit"),
    [((10000, 9000), "89.5"), ((20000, 10000), "179")],
    ids=["over-pillow-warning", "over-pillow-error"],
)
@pytest.mark.parametrize("build", [png_header_only, tiff_header_only], ids=["png", "tiff"])
def test_pillow_decompression_bomb_check_is_an_error_not_a_warning(
    build, size: tuple[int, int], pillow_limit: str, no_decoding: list[str]
) -> None:
    # Our limit lets these through; Pillow's process-wide one (89.5 MP warns, 2x that raises)
    # must refuse them as ImageTooLarge even when the caller ignores warnings.
    assert Image.MAX_IMAGE_PIXELS is not None
    assert Image.MAX_IMAGE_PIXELS < size[0] * size[1] <= 2.3 * Image.MAX_IMAGE_PIXELS
    data = build(*size)
    limits = Limits(max_pixels=300_000_000)
    message = f"image too large: {size[0]}x{size[1]} is over the {pillow_limit} MP limit"
    filters_before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        with pytest.raises(ImageTooLarge) as probed:
            probe(data, limits)
        with pytest.raises(ImageTooLarge) as opened:
            open_image(data, limits=limits)
        with pytest.raises(ImageTooLarge) as resized:
            resize_bytes(data, limits=limits)
    assert str(probed.value) == str(opened.value) == str(resized.value) == message
    assert caught == []
    assert warnings.filters == filters_before
    assert no_decoding == []


def test_pillow_bomb_warning_is_caught_while_warnings_are_shown() -> None:
    data = png_header_only(10000, 9000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageTooLarge):
            probe(data, Limits(max_pixels=300_000_000))
    assert [w.category for w in caught] == []


def test_file_size_limit() -> None:
    data = b"\xff\xd8\xff" + bytes(60 * MIB - 3)
    with pytest.raises(ImageTooLarge) as refused:
        probe(data)
    assert str(refused.value) == "file too large: 60 MB is over the 50 MB limit"
    with pytest.raises(ImageTooLarge) as small:
        probe(sample_bytes("rocket.jpg"), Limits(max_bytes=100 * 1024))
    assert str(small.value) == "file too large: 109.9 KB is over the 100 KB limit"


# Frame limits ----------------------------------------------------------------------------------


def test_too_many_gif_frames() -> None:
    with pytest.raises(TooManyFrames) as refused:
        probe(sample_bytes("no_time_for_that_tiny.gif"), Limits(max_frames=5))
    assert str(refused.value) == "too many frames: over the 5 frame limit"
    assert probe(sample_bytes("no_time_for_that_tiny.gif"), Limits(max_frames=24)).frames == 24


def test_apng_states_its_frame_count_so_the_message_has_it() -> None:
    first, *rest = _frames(5)
    apng = save(first, "PNG", save_all=True, append_images=rest)
    with pytest.raises(TooManyFrames) as refused:
        open_image(apng, limits=Limits(max_frames=2))
    assert str(refused.value) == "too many frames: 5 is over the 2 frame limit"


def test_animated_webp_and_tiff_frame_limits() -> None:
    first, *rest = _frames(5)
    webp = save(first, "WEBP", save_all=True, append_images=rest, lossless=True)
    tiff = save(first, "TIFF", save_all=True, append_images=rest)
    for data in (webp, tiff):
        with pytest.raises(TooManyFrames, match=r"^too many frames: over the 3 frame limit$"):
            probe(data, Limits(max_frames=3))
        assert probe(data, Limits(max_frames=5)).frames == 5


def test_frame_counting_stops_past_the_limit() -> None:
    # The file breaks off after frame 5000; a counter that did not stop at the limit would
    # reach the break and call the file truncated instead.
    data = gif_with_frames(10, cut_after=5000)
    with pytest.raises(CorruptImage, match="truncated GIF"):
        probe(data, Limits(max_frames=10_000))
    with pytest.raises(TooManyFrames):
        probe(data, Limits(max_frames=1000))
    assert probe(gif_with_frames(1000)).frames == 1000


def test_probe_never_decodes_pixels(no_decoding: list[str]) -> None:
    for name in ("astronaut.png", "rocket.jpg", "no_time_for_that_tiny.gif", "page.png"):
        assert probe(sample_bytes(name)).width > 0
    first, *rest = _frames(3)
    for data in (
        save(first, "WEBP", save_all=True, append_images=rest),
        save(first, "TIFF", save_all=True, append_images=rest),
    ):
        assert probe(data).frames == 3
    assert no_decoding == []
