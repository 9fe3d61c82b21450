"""probe(): the cheap check the API runs on an upload. Header only, never decodes pixels.

Order matters: byte size, then the sniffed format, then the dimensions read by our own header
parsers (so the pixel limit holds before Pillow allocates anything), then Pillow's header
parse as a second opinion (except WebP, whose Pillow plugin sets up decoder buffers on open).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ._headers import read_header
from ._orientation import displayed_size
from ._pillow import decoding, pillow_open
from ._sniff import ACCEPTED, sniff
from .errors import ImageTooLarge, TooManyFrames
from .limits import DEFAULT_LIMITS, Limits, format_bytes, format_megapixels


@dataclass(frozen=True)
class ProbeResult:
    format: str  # "JPEG" | "PNG" | "WEBP" | "GIF" | "TIFF"
    width: int  # as displayed: EXIF orientation applied, like every image open_image returns
    height: int
    frames: int
    mime: str  # "image/jpeg", ...


def probe(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ProbeResult:
    """Validate `data` cheaply and describe it; raise an ImageError subclass if refused."""
    result, _ = inspect_image(data, limits, keep_open=False)
    return result


def inspect_image(
    data: bytes, limits: Limits, *, keep_open: bool
) -> tuple[ProbeResult, Image.Image | None]:
    """probe() for the loader too: with keep_open the header-parsed Pillow image is returned
    (not yet decoded) so the loader does not parse the header a second time."""
    check_byte_size(len(data), limits)
    fmt = sniff(data)
    header = read_header(
        fmt, data, limits.max_frames, accept_damaged=limits.accept_damaged
    )
    if header.width is not None and header.height is not None:
        check_pixels(header.width, header.height, limits)
    if header.frames is not None:
        check_frames(header.frames, limits)
    simple_webp = fmt == "WEBP" and not header.metadata
    if simple_webp and not keep_open and header.width and header.height and header.frames:
        # Our parser read everything (EXIF or XMP, which may turn the image, make it leave the
        # size to Pillow); Pillow's WebP open would set up decoder buffers.
        return _result(fmt, header.width, header.height, header.frames), None

    known = (header.width, header.height) if header.width and header.height else None
    with decoding(fmt, known):
        image = pillow_open(data, fmt)
        width, height = image.size
        check_pixels(width, height, limits)
        frames = header.frames if header.frames is not None else _count_frames(image, limits)
        check_frames(frames, limits)
        if image.tell() != 0:  # the TIFF frame walk moved it
            image.seek(0)
        width, height = displayed_size(image, data)  # a phone's portrait photo is portrait
    return _result(fmt, width, height, frames), image if keep_open else None


def _result(fmt: str, width: int, height: int, frames: int) -> ProbeResult:
    return ProbeResult(format=fmt, width=width, height=height, frames=frames, mime=ACCEPTED[fmt])


def _count_frames(image: Image.Image, limits: Limits) -> int:
    """Frames as Pillow sees them, stopping one past the limit.

    PNG (acTL) and JPEG/MPO know their count from the header; TIFF walks its IFDs, which
    reads tags but no pixels, so the walk is bounded rather than asking for n_frames.
    """
    if image.format != "TIFF":
        return int(getattr(image, "n_frames", 1))
    frames = 1
    while frames <= limits.max_frames:
        try:
            image.seek(frames)
        except EOFError:
            break
        frames += 1
    return frames


def check_byte_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise ImageTooLarge(
            f"file too large: {format_bytes(size, round_up=True)} is over the "
            f"{format_bytes(limits.max_bytes)} limit"
        )


def check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"image too large: {width}x{height} is over the "
            f"{format_megapixels(limits.max_pixels)} MP limit"
        )


def check_frames(frames: int, limits: Limits) -> None:
    if frames > limits.max_frames:
        # Frame walks stop one past the limit, so limit + 1 means "at least that many": do not
        # print a count that was not measured.
        if frames == limits.max_frames + 1:
            raise TooManyFrames(f"too many frames: over the {limits.max_frames} frame limit")
        raise TooManyFrames(
            f"too many frames: {frames} is over the {limits.max_frames} frame limit"
        )
