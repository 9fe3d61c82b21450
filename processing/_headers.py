"""Header parsers that read dimensions, frame counts and obvious truncation straight from the
bytes, before Pillow sees the data.

Why not only Pillow: the pixel limit must hold before anything is allocated, and Pillow's WebP
plugin sets up its animation decoder (canvas buffers) while opening. These parsers are
O(header) except the GIF and WebP frame walks, which jump from block to block and stop one
frame past the limit. Anything they cannot vouch for is left as None for Pillow to answer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from .errors import CorruptImage


@dataclass(frozen=True)
class Header:
    width: int | None = None
    height: int | None = None
    frames: int | None = None  # None: ask Pillow (cheap for the formats where it is left None)
    metadata: bool = False  # WebP only: carries EXIF or XMP (maybe an orientation)


def read_header(fmt: str, data: bytes, max_frames: int) -> Header:
    """Dimensions and frames of `data` in the sniffed format; CorruptImage if obviously broken.

    Frame counting stops at max_frames + 1: the caller only needs to know it is over.
    """
    parser = {"JPEG": _jpeg, "PNG": _png, "GIF": _gif, "WEBP": _webp, "TIFF": _tiff}[fmt]
    return parser(data, max_frames)


def _truncated(fmt: str) -> CorruptImage:
    return CorruptImage(f"corrupt image (truncated {fmt})")


def _invalid(fmt: str, what: str) -> CorruptImage:
    return CorruptImage(f"corrupt image (invalid {fmt} {what})")


# JPEG ------------------------------------------------------------------------------------------

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG, DAC are not SOF
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7 carry no length


def _jpeg(data: bytes, max_frames: int) -> Header:
    """Walk the marker segments up to the first top-level SOS.

    An embedded EXIF thumbnail lives inside APP1 and is skipped as a whole, so the SOF found is
    the main image's. The scan data cannot contain FFD9 (0xFF is stuffed as FF00), so a file
    without an EOI after the first scan was cut short. Data after the EOI is allowed (motion
    photos append a video, MPO appends more images).
    """
    size: tuple[int, int] | None = None
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
        if marker in _SOF_MARKERS and size is None:
            if pos + 9 > end:
                raise _truncated("JPEG")
            height, width = struct.unpack_from(">HH", data, pos + 5)
            size = (width, height)
        if marker == 0xDA:
            break
        pos += 2 + length
    if size is None:
        raise _invalid("JPEG", "structure (no frame header)")
    if size[0] == 0 or size[1] == 0:
        raise _invalid("JPEG", "dimensions")
    # rfind: a complete file ends with its EOI, found at once; find() would crawl the scan.
    if data.rfind(b"\xff\xd9", pos) == -1:
        raise _truncated("JPEG")
    return Header(size[0], size[1], None)


# PNG -------------------------------------------------------------------------------------------

_IEND = b"IEND\xaeB`\x82"  # the IEND chunk type and its fixed CRC


def _png(data: bytes, max_frames: int) -> Header:
    if len(data) < 33:
        raise _truncated("PNG")
    if data[12:16] != b"IHDR":
        raise _invalid("PNG", "header")
    width, height = struct.unpack_from(">II", data, 16)
    if width == 0 or height == 0:
        raise _invalid("PNG", "dimensions")
    if data.rfind(_IEND) == -1:
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
