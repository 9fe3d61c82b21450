"""Header parsers that read dimensions, frame counts and obvious truncation straight from the
bytes, before Pillow sees the data.

Why not only Pillow: the pixel limit must hold before anything is allocated, and Pillow's WebP
plugin sets up its animation decoder (canvas buffers) while opening. These parsers are
O(header) except the GIF and WebP frame walks, which jump from block to block and stop one
frame past the limit. Anything they cannot vouch for is left as None for Pillow to answer.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, replace

from .errors import CorruptImage


@dataclass(frozen=True)
class Header:
    width: int | None = None
    height: int | None = None
    frames: int | None = None  # None: ask Pillow (cheap for the formats where it is left None)
    metadata: bool = False  # WebP only: carries EXIF or XMP (maybe an orientation)


def read_header(
    fmt: str, data: bytes, max_frames: int, *, accept_damaged: bool = False
) -> Header:
    """Dimensions and frames of `data` in the sniffed format; CorruptImage if obviously broken.

    Frame counting stops at max_frames + 1: the caller only needs to know it is over. With
    `accept_damaged`, a JPEG or PNG whose data visibly ends early (no end marker, too little
    data for its frame, scans missing) is let through for the decoder to salvage.
    """
    if fmt == "JPEG":
        return _jpeg(data, accept_damaged)
    if fmt == "PNG":
        return _png(data, accept_damaged)
    parser = {"GIF": _gif, "WEBP": _webp, "TIFF": _tiff}[fmt]
    return parser(data, max_frames)


def _truncated(fmt: str) -> CorruptImage:
    return CorruptImage(f"corrupt image (truncated {fmt})")


def _invalid(fmt: str, what: str) -> CorruptImage:
    return CorruptImage(f"corrupt image (invalid {fmt} {what})")


# JPEG ------------------------------------------------------------------------------------------

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG, DAC are not SOF
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7 carry no length


_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_ARITHMETIC = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_LOSSLESS = frozenset({0xC3, 0xC7, 0xCB, 0xCF})
# The next scan header or the end of the image. Neither can occur inside entropy-coded data
# (0xFF is stuffed as FF00 there; only RST markers FFD0-FFD7 appear), so this finds them
# without decoding.
_SCAN_OR_END = re.compile(rb"\xff[\xd9\xda]")
TRUNCATED_JPEG_DATA = "corrupt image (truncated JPEG: the data ends before the image is complete)"


@dataclass(frozen=True)
class _Frame:
    marker: int  # the SOF marker: 0xC0 baseline, 0xC2 progressive, ...
    width: int
    height: int
    components: tuple[tuple[int, int, int], ...]  # (id, horizontal, vertical sampling)


def _jpeg(data: bytes, accept_damaged: bool) -> Header:
    """Walk the marker segments up to the first top-level SOS.

    An embedded EXIF thumbnail lives inside APP1 and is skipped as a whole, so the SOF found is
    the main image's. The scan data cannot contain FFD9 (0xFF is stuffed as FF00), so a file
    without an EOI after the first scan was cut short. Data after the EOI is allowed (motion
    photos append a video, MPO appends more images). Then _check_jpeg_data refuses data that
    cannot fill the frame, unless `accept_damaged`.
    """
    frame: _Frame | None = None
    pos, end = 2, len(data)
    while True:
        if pos + 4 > end:
            raise _truncated("JPEG")
        if data[pos] != 0xFF:
            raise _invalid("JPEG", "marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xD9:
            raise _invalid("JPEG", "structure (no image data)")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise _invalid("JPEG", "segment length")
        if marker in _SOF_MARKERS and frame is None:
            frame = _sof(data, pos, marker)
        if marker == 0xDA:
            break
        pos += 2 + length
    if frame is None:
        raise _invalid("JPEG", "structure (no frame header)")
    if frame.width == 0 or frame.height == 0:
        raise _invalid("JPEG", "dimensions")
    # rfind: a complete file ends with its EOI, found at once; find() would crawl the scan.
    eoi = data.rfind(b"\xff\xd9", pos)
    if not accept_damaged:
        if eoi == -1:
            raise _truncated("JPEG")
        _check_jpeg_data(data, pos, eoi, frame)
    return Header(frame.width, frame.height, None)


def _sof(data: bytes, pos: int, marker: int) -> _Frame:
    if pos + 10 > len(data):
        raise _truncated("JPEG")
    height, width, count = struct.unpack_from(">HHB", data, pos + 5)
    if pos + 10 + 3 * count > len(data):
        raise _truncated("JPEG")
    components = tuple(
        (data[at], data[at + 1] >> 4, data[at + 1] & 15)
        for at in range(pos + 10, pos + 10 + 3 * count, 3)
    )
    return _Frame(marker, width, height, components)


def _check_jpeg_data(data: bytes, sos: int, eoi: int, frame: _Frame) -> None:
    """CorruptImage when the data after the headers visibly cannot fill the frame.

    Two checks that cannot refuse a sound file. (1) Huffman coding spends at least one bit on
    every 8x8 block (its DC symbol), so a file with fewer bits than blocks lacks data: an
    800x600 scan under a header claiming 7000x7000. (2) A progressive image (or a sequential
    one coded in several scans) must have a scan for every component's DC, and finish every
    coefficient band it began at a coarse bit (successive approximation): a cut file padded
    with an EOI lacks its last scans. Damage inside the last scan is left to the decoder
    (loader.decode).
    """
    if frame.marker in _LOSSLESS or not frame.components:
        return
    # Arithmetic coding can spend far less than a bit per block: only Huffman is bounded.
    if frame.marker not in _ARITHMETIC and (eoi - sos) * 8 < _blocks(frame):
        raise CorruptImage(
            f"corrupt image (JPEG data too short for its {frame.width}x{frame.height} frame)"
        )
    ids = {component[0] for component in frame.components}
    first = _scan(data, sos)
    if frame.marker not in _PROGRESSIVE and ids <= set(first[0]):
        return  # the usual baseline file: one scan with every component
    finest: dict[tuple[int, int], int] = {}  # (component, coefficient) -> finest bit sent
    pos: int | None = sos
    while pos is not None:
        components, start, stop, low_bit = _scan(data, pos)
        for component in components:
            for k in range(start, min(stop, 63) + 1):
                finest[(component, k)] = min(finest.get((component, k), 16), low_bit)
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        found = _SCAN_OR_END.search(data, pos + 2 + length)
        pos = found.start() if found and found.group() == b"\xff\xda" else None
    if any((component, 0) not in finest for component in ids) or any(finest.values()):
        raise CorruptImage(TRUNCATED_JPEG_DATA)


def _scan(data: bytes, pos: int) -> tuple[tuple[int, ...], int, int, int]:
    """The SOS header at `pos`: component ids, spectral start and end, low bit (Al)."""
    if pos + 5 > len(data):
        raise _truncated("JPEG")
    count = data[pos + 4]
    tail = pos + 5 + 2 * count
    if tail + 3 > len(data):
        raise _truncated("JPEG")
    components = tuple(data[pos + 5 : tail : 2])
    return components, data[tail], data[tail + 1], data[tail + 2] & 15


def _blocks(frame: _Frame) -> int:
    """8x8 blocks in the frame, each component at its own sampling (no MCU padding)."""
    h_max = max(component[1] for component in frame.components) or 1
    v_max = max(component[2] for component in frame.components) or 1
    return sum(
        math.ceil(math.ceil(frame.width * h / h_max) / 8)
        * math.ceil(math.ceil(frame.height * v / v_max) / 8)
        for _, h, v in frame.components
    )


# PNG -------------------------------------------------------------------------------------------

_IEND = b"IEND\xaeB`\x82"  # the IEND chunk type and its fixed CRC


def _png(data: bytes, accept_damaged: bool) -> Header:
    if len(data) < 33:
        raise _truncated("PNG")
    if data[12:16] != b"IHDR":
        raise _invalid("PNG", "header")
    width, height = struct.unpack_from(">II", data, 16)
    if width == 0 or height == 0:
        raise _invalid("PNG", "dimensions")
    if data.rfind(_IEND) == -1 and not accept_damaged:
        raise _truncated("PNG")
    # APNG frame count comes from the acTL chunk, which Pillow reads while opening.
    return Header(width, height, None)


# GIF -------------------------------------------------------------------------------------------


def png_exif_chunk(data: bytes) -> bytes | None:
    """The payload of a PNG's eXIf chunk wherever it lies, reading chunk headers only.

    Pillow sees an eXIf chunk placed after the pixel data only once it has decoded them.
    """
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"eXIf":
            return data[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            break
        pos += 12 + length
    return None


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    end = len(data)
    while True:
        if pos >= end:
            raise _truncated("GIF")
        size = data[pos]
        pos += 1
        if size == 0:
            return pos
        pos += size


def _gif(data: bytes, max_frames: int) -> Header:
    """Count image descriptors by jumping over sub-blocks (no LZW decoding)."""
    if len(data) < 13:
        raise _truncated("GIF")
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    pos = 13
    if packed & 0x80:
        pos += 3 << ((packed & 7) + 1)
    frames, end = 0, len(data)
    while frames <= max_frames:
        if pos >= end:
            if frames == 0:
                raise _truncated("GIF")
            break  # a missing trailer byte is common and harmless
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor
            if pos + 10 > end:
                raise _truncated("GIF")
            left, top, w, h, flags = struct.unpack_from("<HHHHB", data, pos + 1)
            if frames == 0:  # Pillow grows the canvas to hold the first frame
                width, height = max(width, left + w), max(height, top + h)
            pos += 10
            if flags & 0x80:
                pos += 3 << ((flags & 7) + 1)
            pos = _skip_sub_blocks(data, pos + 1)  # +1: LZW minimum code size
            frames += 1
        elif frames:
            break  # junk after the last frame: browsers ignore it, so do we
        else:
            raise _invalid("GIF", "block")
    if frames == 0:
        raise _invalid("GIF", "structure (no image)")
    if width == 0 or height == 0:
        raise _invalid("GIF", "dimensions")
    return Header(width, height, frames)


# WebP ------------------------------------------------------------------------------------------


def _webp(data: bytes, max_frames: int) -> Header:
    """RIFF chunks: VP8 (lossy), VP8L (lossless) or VP8X (extended, maybe animated)."""
    if len(data) < 30:
        raise _truncated("WebP")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if len(data) < 8 + riff_size:
        raise _truncated("WebP")
    chunk = data[12:16]
    payload = 20
    if chunk == b"VP8 ":
        if data[payload + 3 : payload + 6] != b"\x9d\x01\x2a":
            raise _invalid("WebP", "header")
        w, h = struct.unpack_from("<HH", data, payload + 6)
        return _webp_header(w & 0x3FFF, h & 0x3FFF, 1)
    if chunk == b"VP8L":
        if data[payload] != 0x2F:
            raise _invalid("WebP", "header")
        (bits,) = struct.unpack_from("<I", data, payload + 1)
        return _webp_header((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1)
    if chunk == b"VP8X":
        flags = data[payload]
        w = int.from_bytes(data[payload + 4 : payload + 7], "little") + 1
        h = int.from_bytes(data[payload + 7 : payload + 10], "little") + 1
        frames = _count_webp_frames(data, riff_size, max_frames) if flags & 0x02 else 1
        # EXIF (0x08) or XMP (0x04) may hold an orientation that swaps the axes: probe asks
        # Pillow to read it.
        return replace(_webp_header(w, h, frames), metadata=bool(flags & 0x0C))
    raise _invalid("WebP", "header")


def _webp_header(width: int, height: int, frames: int) -> Header:
    if width == 0 or height == 0:
        raise _invalid("WebP", "dimensions")
    if frames == 0:
        raise _invalid("WebP", "animation (no frames)")
    return Header(width, height, frames)


def _count_webp_frames(data: bytes, riff_size: int, max_frames: int) -> int:
    pos, end, frames = 12, min(len(data), 8 + riff_size), 0
    while pos + 8 <= end and frames <= max_frames:
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if data[pos : pos + 4] == b"ANMF":
            frames += 1
        pos += 8 + size + (size & 1)
    return frames


# TIFF ------------------------------------------------------------------------------------------


def _tiff(data: bytes, max_frames: int) -> Header:
    """Width and length from the first IFD of a classic TIFF; BigTIFF is left to Pillow.

    Frames are counted by Pillow (walking IFDs reads tags only), bounded by the caller.
    """
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8 or struct.unpack_from(order + "H", data, 2)[0] != 42:
        return Header()
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    if ifd + 2 > len(data):
        raise _truncated("TIFF")
    (count,) = struct.unpack_from(order + "H", data, ifd)
    if ifd + 2 + 12 * count > len(data):
        raise _truncated("TIFF")
    size: dict[int, int] = {}
    for index in range(count):
        tag, kind, n = struct.unpack_from(order + "HHI", data, ifd + 2 + 12 * index)
        if tag in (256, 257) and n == 1 and kind in (3, 4):  # SHORT or LONG
            fmt = order + ("H" if kind == 3 else "I")
            size[tag] = struct.unpack_from(fmt, data, ifd + 2 + 12 * index + 8)[0]
    if 256 not in size or 257 not in size:
        return Header()
    if size[256] == 0 or size[257] == 0:
        raise _invalid("TIFF", "dimensions")
    return Header(size[256], size[257], None)
