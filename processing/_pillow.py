"""Pillow behind a guard: opening is restricted to the sniffed format, Pillow's decompression
bomb warning becomes an error, and whatever Pillow raises on bad data becomes a typed error
with a readable reason."""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageFile

from .errors import CorruptImage, ImageError, ImageTooLarge
from .limits import format_megapixels

# How the formats are named in messages ("truncated WebP", not "truncated WEBP").
DISPLAY_NAME = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF", "TIFF": "TIFF"}

# warnings.catch_warnings() swaps the process-wide filter list and restores it on exit; two
# threads interleaving enter/exit could leave our "error" filter installed for everybody. The
# lock serialises our own use; it is held only while Pillow reads a header (microseconds).
_WARNINGS_LOCK = threading.Lock()


def pillow_open(data: bytes, fmt: str) -> ImageFile.ImageFile:
    """Image.open limited to one plugin, with DecompressionBombWarning raised as an error.

    Opening reads the header only; pixels are decoded later by load().
    """
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=[fmt])
    if fmt == "JPEG":
        # libjpeg's arithmetic decoder cannot wait for more input, which Pillow's feeding in
        # 64 kB blocks makes it do: every arithmetic-coded JPEG over 64 kB failed with
        # "broken data stream". The bytes are in memory already; hand them over in one block.
        image.decodermaxblock = max(image.decodermaxblock, len(data))
    return image


def too_large_for_pillow(size: tuple[int, int] | None, exc: Exception) -> ImageTooLarge:
    """ImageTooLarge for an image that passed our limit but not Pillow's process-wide one."""
    limit = Image.MAX_IMAGE_PIXELS or 0
    if isinstance(exc, Image.DecompressionBombError):
        limit *= 2
    if size is not None:
        what = f"{size[0]}x{size[1]}"
    else:  # only Pillow knows the size: take it from its message
        found = re.search(r"\((\d+) pixels\)", str(exc))
        what = f"{found.group(1)} pixels" if found else "the image"
    return ImageTooLarge(f"image too large: {what} is over the {format_megapixels(limit)} MP limit")


@contextmanager
def decoding(fmt: str, size: tuple[int, int] | None = None) -> Iterator[None]:
    """Turn Pillow's many exception types on bad data into ImageError subclasses.

    Pillow raises OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error and
    others depending on the plugin, so the net is wide on purpose; it wraps only Pillow calls.
    """
    try:
        yield
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise too_large_for_pillow(size, exc) from exc
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptImage(describe_decode_error(fmt, exc)) from exc


def describe_decode_error(fmt: str, exc: BaseException) -> str:
    name = DISPLAY_NAME.get(fmt, fmt)
    text = str(exc).lower()
    if isinstance(exc, EOFError) or any(
        word in text for word in ("truncated", "broken data stream", "not enough data", "eof")
    ):
        return f"corrupt image (truncated {name})"
    return f"corrupt image (invalid {name} data)"
