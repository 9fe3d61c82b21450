"""Damaged images fail with a reason (issue 7, item 8) on every decode path, unless
Limits(accept_damaged=True); sound files from common encoders are never taken for damaged."""

from __future__ import annotations

import struct
from collections.abc import Callable

import cv2
import numpy as np
import pytest
import pyvips
from PIL import Image

from processing import loader
from processing._headers import _blocks, _Frame
from processing.errors import CorruptImage
from processing.limits import Limits
from processing.loader import open_image
from processing.probe import probe
from processing.resize import resize_bytes

from .images import photo, png_chunk, save

ACCEPT = Limits(accept_damaged=True)
TRUNCATED = r"^corrupt image \(truncated JPEG: the data ends before the image is complete\)$"


def cut_with_end_marker(data: bytes) -> bytes:
    """The first half of a JPEG with an EOI put back: what a broken upload or copy leaves."""
    return data[: len(data) // 2] + b"\xff\xd9"


def with_frame_size(data: bytes, width: int, height: int) -> bytes:
    """`data` with its SOF header patched to claim width x height (the scan data unchanged)."""
    patched = bytearray(data)
    pos = 2
    while patched[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + struct.unpack_from(">H", patched, pos + 2)[0]
    struct.pack_into(">HH", patched, pos + 5, height, width)
    return bytes(patched)


DECODERS: dict[str, Callable[..., Image.Image]] = {
    "open_image": lambda data, limits=Limits(): open_image(data, limits=limits),
    "open_image(box)": lambda data, limits=Limits(): open_image(
        data, box=(1024, 1024), limits=limits
    ),
    "resize_bytes": lambda data, limits=Limits(): resize_bytes(data, limits=limits),
}


@pytest.fixture(scope="module")
def baseline() -> bytes:
    return save(photo((2400, 1600)), "JPEG", quality=90)


# JPEG: data that ends early --------------------------------------------------------------------


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_cut_jpeg_with_its_end_marker_put_back_is_corrupt(baseline: bytes, decoder: str) -> None:
    cut = cut_with_end_marker(baseline)
    probe(cut)  # the header cannot tell: enough data for the frame, one complete scan header
    with pytest.raises(CorruptImage, match=TRUNCATED):
        DECODERS[decoder](cut)


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_cut_jpeg_is_decoded_with_its_filler_when_damage_is_accepted(
    baseline: bytes, decoder: str
) -> None:
    image = DECODERS[decoder](cut_with_end_marker(baseline), ACCEPT)
    assert image.mode == "RGB" and image.width in (1024, 1200, 2400)  # fitted, drafted, full
    bottom = np.asarray(image)[-5:]
    assert (bottom == 128).all(), "the rows past the cut are libjpeg's grey filler"


def test_a_cut_progressive_jpeg_is_refused_by_probe_its_last_scans_are_missing() -> None:
    data = save(photo((2400, 1600)), "JPEG", quality=90, progressive=True)
    cut = cut_with_end_marker(data)
    with pytest.raises(CorruptImage, match=TRUNCATED):
        probe(cut)
    assert probe(cut, ACCEPT).width == 2400
    assert resize_bytes(cut, limits=ACCEPT).size == (1024, 683)


def test_small_scan_data_under_a_huge_frame_is_refused_by_probe() -> None:
    # The case: 800x600 of data under a header that says 7000x7000.
    small = save(photo((800, 600)), "JPEG", quality=75)
    fake = with_frame_size(small, 7000, 7000)
    frame = _Frame(0xC0, 7000, 7000, ((1, 2, 2), (2, 1, 1), (3, 1, 1)))
    assert len(fake) * 8 < _blocks(frame), "precondition: under one bit per 8x8 block"
    with pytest.raises(CorruptImage) as refused:
        probe(fake)
    assert str(refused.value) == "corrupt image (JPEG data too short for its 7000x7000 frame)"


@pytest.mark.parametrize("decoder", DECODERS)
def test_scan_data_that_does_not_fill_its_frame_is_corrupt(decoder: str) -> None:
    # Enough bytes for the frame's blocks, so only the decode can tell.
    data = save(photo((800, 600)), "JPEG", quality=95)
    fake = with_frame_size(data, 2000, 2000)
    probe(fake)
    with pytest.raises(CorruptImage, match=TRUNCATED):
        DECODERS[decoder](fake)
    assert DECODERS[decoder](fake, ACCEPT).size in ((2000, 2000), (1024, 1024))


def test_a_jpeg_without_its_end_marker_is_salvaged_when_damage_is_accepted(
    baseline: bytes,
) -> None:
    cut = baseline[: len(baseline) // 2]
    with pytest.raises(CorruptImage, match=r"^corrupt image \(truncated JPEG\)$"):
        open_image(cut)
    # Pillow refuses a file that stops mid-scan whatever we say; libvips decodes what is there.
    image = open_image(cut, limits=ACCEPT)
    assert image.size == (2400, 1600) and image.mode == "RGB"
    top = np.asarray(image)[:100].astype(int)
    assert np.abs(top - np.asarray(open_image(baseline))[:100].astype(int)).mean() < 1.0


def test_a_photo_that_really_ends_in_mid_grey_is_not_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    picture = photo((800, 600))
    picture.paste((128, 128, 128), (0, 560, 800, 600))
    data = save(picture, "JPEG", quality=95)
    assert (np.asarray(open_image(data, limits=ACCEPT))[-1] == 128).all(), "precondition"
    for decode in DECODERS.values():
        assert decode(data).size in ((800, 600),)
    # Only a grey last row makes the loader ask libjpeg: other photos cost nothing more.
    asked: list[bytes] = []
    monkeypatch.setattr(loader, "jpeg_warns", lambda data: asked.append(data) or False)
    open_image(save(photo((800, 600)), "JPEG"))
    assert asked == []
    open_image(data)
    assert asked == [data]


def _encodings() -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for size in [(1, 1), (7, 5), (33, 17), (640, 480)]:
        picture = photo(size) if size[0] > 16 else Image.new("RGB", size, (10, 200, 30))
        for subsampling in (0, 1, 2):
            for progressive in (False, True):
                found[f"pillow-{size}-{subsampling}-{progressive}"] = save(
                    picture, "JPEG", quality=85, subsampling=subsampling,
                    progressive=progressive, optimize=True,
                )
        found[f"pillow-grey-{size}"] = save(picture.convert("L"), "JPEG", progressive=True)
        found[f"pillow-cmyk-{size}"] = save(picture.convert("CMYK"), "JPEG")
        bgr = cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGB2BGR)
        for progressive in (0, 1):
            found[f"opencv-{size}-{progressive}"] = cv2.imencode(
                ".jpg", bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, progressive]
            )[1].tobytes()
        vips = pyvips.Image.new_from_memory(
            np.ascontiguousarray(np.asarray(picture)).tobytes(), size[0], size[1], 3, "uchar"
        )
        for index, options in enumerate(
            [{}, {"interlace": True}, {"interlace": True, "optimize_scans": True},
             {"restart_interval": 2}, {"subsample_mode": "off", "interlace": True}]
        ):
            found[f"libvips-{size}-{index}"] = vips.jpegsave_buffer(**options)
    return found


ENCODINGS = _encodings()


@pytest.mark.parametrize("name", ENCODINGS)
def test_sound_jpegs_from_common_encoders_are_never_refused(name: str) -> None:
    data = ENCODINGS[name]
    probe(data)
    for decode in DECODERS.values():
        decode(data)


# PNG: data that ends early ---------------------------------------------------------------------


def cut_png(size: tuple[int, int] = (300, 200)) -> bytes:
    """A PNG whose compressed pixel data is cut in half, its IEND put back (probe passes)."""
    good = save(photo(size), "PNG")
    start = good.index(b"IDAT") - 4
    length = int.from_bytes(good[start : start + 4], "big")
    payload = good[start + 8 : start + 8 + length]
    return good[:start] + png_chunk(b"IDAT", payload[: length // 2]) + png_chunk(b"IEND", b"")


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_cut_png_is_corrupt_and_salvaged_when_damage_is_accepted(decoder: str) -> None:
    data = cut_png()
    probe(data)
    with pytest.raises(CorruptImage, match=r"^corrupt image \((truncated|invalid) PNG( data)?\)$"):
        DECODERS[decoder](data)
    salvaged = DECODERS[decoder](data, ACCEPT)
    assert salvaged.size == (300, 200) and salvaged.mode == "RGB"
    original = np.asarray(photo((300, 200))).astype(int)
    top = np.asarray(salvaged).astype(int)[:20]
    assert np.abs(top - original[:20]).mean() < 1.0, "the rows that are there are kept"


def test_a_png_without_its_end_is_refused_unless_damage_is_accepted() -> None:
    data = cut_png()[:-12]  # IEND gone too
    with pytest.raises(CorruptImage, match=r"^corrupt image \(truncated PNG\)$"):
        probe(data)
    assert open_image(data, limits=ACCEPT).size == (300, 200)


def test_accept_damaged_must_be_a_boolean() -> None:
    assert Limits().accept_damaged is False
    with pytest.raises(ValueError, match="Limits.accept_damaged must be true or false"):
        Limits(accept_damaged="yes")  # type: ignore[arg-type]
