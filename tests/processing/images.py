"""Builders for test inputs: real photos from testdata/ and odd files made with Pillow or by
hand (headers that claim huge sizes, orientations, truncations)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

from PIL import Image

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
RED, BLUE = (255, 0, 0), (0, 0, 255)


def sample_bytes(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def save(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def photo(size: tuple[int, int] = (4000, 3000)) -> Image.Image:
    """A real photo scaled to `size` (detail everywhere, unlike a flat test card)."""
    return decode(sample_bytes("chelsea.png")).convert("RGB").resize(size)


# Hand-built headers ----------------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A well-formed PNG (valid CRCs) whose IHDR claims width x height RGB, with a 16-byte
    IDAT: a few hundred bytes that would need width*height*3 bytes to decode."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )


def tiff_header_only(width: int, height: int) -> bytes:
    """A little-endian greyscale TIFF whose single IFD claims width x height."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample, SHORT
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: BlackIsZero
        (273, 4, 1, 8),  # StripOffsets: right after the header
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd_offset = 8 + 16
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<H", value) + b"\x00\x00" if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + b"\x00" * 16 + ifd


def gif_with_frames(frames: int, *, cut_after: int | None = None) -> bytes:
    """A 1x1 GIF with `frames` image descriptors, built by hand (Pillow would dedupe them).

    With `cut_after`, the data stops in the middle of the frame after that many frames.
    """
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    body = frame * frames
    if cut_after is not None:
        body = frame * cut_after + frame[:5]
        return header + body
    return header + body + b"\x3b"


# Orientation -----------------------------------------------------------------------------------

# The transpose that turns the upright picture into what a camera stores for each EXIF
# orientation (the inverse of what a viewer applies), written out independently of the code.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # viewer turns it 90 degrees clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # viewer turns it 90 degrees counter-clockwise
}


def upright_card(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """Blue landscape card with a red block in the top-left corner: any flip or turn shows."""
    card = Image.new("RGB", size, BLUE)
    card.paste(RED, (0, 0, size[0] // 3, size[1] // 3))
    return card


def exif_with_gps(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SecretCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 30.0)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 12.0)
    return exif


def stored_as(orientation: int, card: Image.Image | None = None) -> Image.Image:
    """`card` (default upright_card()) as a camera stores it for `orientation`."""
    card = card or upright_card()
    transpose = STORED_AS[orientation]
    return card.transpose(transpose) if transpose is not None else card


def oriented_jpeg(orientation: int, card: Image.Image | None = None, **params: Any) -> bytes:
    """A JPEG storing `card` as a camera would for `orientation`, with GPS and camera tags."""
    params = {"quality": 95, **params, "exif": exif_with_gps(orientation).tobytes()}
    return save(stored_as(orientation, card), "JPEG", **params)
