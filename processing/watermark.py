"""Text and/or logo watermark.

The mark (logo, then text, side by side) is rendered once per (options, size) into a small
RGBA tile and cached; placing it composites only the tile's region of the photo. Text is
white at `opacity` with a dark outline at a little less, so it reads on light and dark photos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .errors import ImageError, InvalidStep
from .probe import probe

POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center", "tiled")
MIN_SCALE, MAX_SCALE = 0.01, 0.5
MAX_TEXT_LENGTH = 200
_FONT_PATH = Path(__file__).with_name("fonts") / "DejaVuSans-Bold.ttf"
_MIN_FONT_SIZE = 6


@dataclass(frozen=True)
class WatermarkOptions:
    """Validated on construction, so a bad option fails where it is given (the API).

    opacity 0 is allowed and leaves the image untouched (a way to switch the mark off).
    `scale` is the text height relative to the image's shorter side; a logo is drawn twice
    as tall as the text.
    """

    text: str | None = "© Photopipe"
    logo: bytes | None = None  # PNG/any image bytes
    position: str = "bottom-right"  # top-left|top-right|bottom-left|bottom-right|center|tiled
    opacity: float = 0.6  # 0..1
    scale: float = 0.05  # text height relative to the image's shorter side

    def __post_init__(self) -> None:
        if self.text is not None and not isinstance(self.text, str):
            raise InvalidStep(f"watermark text must be a string (got {self.text!r})")
        if self.text is not None and len(self.text) > MAX_TEXT_LENGTH:
            raise InvalidStep(
                f"watermark text must be at most {MAX_TEXT_LENGTH} characters "
                f"(got {len(self.text)})"
            )
        if self.logo is not None:
            _check_logo(self.logo)
        if not (self.text and self.text.strip()) and not self.logo:
            raise InvalidStep("watermark needs a text or a logo")
        if self.position not in POSITIONS:
            raise InvalidStep(
                f"watermark position must be one of {', '.join(POSITIONS)} "
                f"(got {self.position!r})"
            )
        _check_number("opacity", self.opacity, 0.0, 1.0)
        _check_number("scale", self.scale, MIN_SCALE, MAX_SCALE)


def _check_logo(logo: object) -> None:
    """A logo is untrusted bytes like any upload: probe it now so a bad one fails here."""
    if not isinstance(logo, bytes | bytearray):
        raise InvalidStep("watermark logo must be image bytes")
    try:
        probe(bytes(logo))
    except ImageError as exc:
        raise InvalidStep(f"watermark logo: {exc}") from None


def _check_number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidStep(f"watermark {name} must be a number (got {value!r})")
    if not low <= value <= high:
        raise InvalidStep(f"watermark {name} must be between {low:g} and {high:g} (got {value:g})")


def watermark(image: Image.Image, options: WatermarkOptions = WatermarkOptions()) -> Image.Image:
    """Return a watermarked copy of `image` (RGB or RGBA, mode kept); `image` is not modified.

    With opacity 0 there is nothing to draw and `image` itself is returned.
    """
    if options.opacity == 0:
        return image
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    width, height = image.size
    short = min(width, height)
    text_px = max(_MIN_FONT_SIZE, round(options.scale * short))
    margin = max(2, round(0.02 * short))
    mark = _MarkKey(
        text=(options.text or "").strip(),
        logo=bytes(options.logo) if options.logo else None,
        text_px=text_px,
        alpha=round(options.opacity * 255),
        max_width=max(1, width - 2 * margin),
    )
    out = image.copy()
    if options.position == "tiled":
        _composite(out, _tiled_overlay(mark, width, height, margin), (0, 0))
    else:
        tile = _mark(mark)
        _composite(out, tile, _anchor(options.position, out.size, tile.size, margin))
    return out


@dataclass(frozen=True)
class _MarkKey:
    """Everything the rendered mark depends on; hashable, so renders can be cached."""

    text: str
    logo: bytes | None  # bytes cache their hash, so keying on them is cheap after once
    text_px: int
    alpha: int
    max_width: int


def _composite(base: Image.Image, overlay: Image.Image, at: tuple[int, int]) -> None:
    """Composite `overlay` onto `base` in place, touching only the overlay's region.

    RGBA bases use alpha_composite (correct "over" for transparent pixels). For RGB bases a
    paste with the overlay's alpha as mask computes the same "over" result on an opaque
    background without converting the region to RGBA and back.
    """
    x, y = at
    # Clip the overlay to the image: a mark larger than a tiny image is cut, not refused.
    left, top = max(0, -x), max(0, -y)
    right = min(overlay.width, base.width - x)
    bottom = min(overlay.height, base.height - y)
    if right <= left or bottom <= top:
        return
    if (left, top, right, bottom) != (0, 0, overlay.width, overlay.height):
        overlay = overlay.crop((left, top, right, bottom))
    dest = (x + left, y + top)
    if base.mode == "RGBA":
        base.alpha_composite(overlay, dest)
    else:
        base.paste(overlay, dest, overlay)


def _anchor(
    position: str, size: tuple[int, int], mark: tuple[int, int], margin: int
) -> tuple[int, int]:
    (width, height), (mark_w, mark_h) = size, mark
    xs = {"left": margin, "right": width - mark_w - margin, "center": (width - mark_w) // 2}
    ys = {"top": margin, "bottom": height - mark_h - margin, "center": (height - mark_h) // 2}
    if position == "center":
        return max(0, xs["center"]), max(0, ys["center"])
    vertical, horizontal = position.split("-")
    return max(0, xs[horizontal]), max(0, ys[vertical])


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(_FONT_PATH), size)
    except OSError:  # the font file did not ship: Pillow's built-in (Latin-only) font
        return ImageFont.load_default(size=size)


@lru_cache(maxsize=16)
def _logo_image(logo_bytes: bytes, height: int, max_width: int) -> Image.Image:
    from .loader import open_image  # the loader validates and normalises untrusted bytes

    logo = open_image(logo_bytes, box=(4096, 4096)).convert("RGBA")
    scale = min(height / logo.height, max_width / logo.width)
    size = (max(1, round(logo.width * scale)), max(1, round(logo.height * scale)))
    return logo.resize(size, Image.Resampling.LANCZOS)


@lru_cache(maxsize=128)
def _mark(key: _MarkKey) -> Image.Image:
    """The watermark as a small RGBA tile: [logo] [text], alpha already scaled by opacity.

    Cached and shared: callers only read it.
    """
    parts: list[Image.Image] = []
    gap = max(2, key.text_px // 3)
    if key.logo is not None:
        parts.append(_logo_image(key.logo, 2 * key.text_px, key.max_width))
    if key.text:
        room = key.max_width - (parts[0].width + gap if parts else 0)
        parts.append(_text_tile(key.text, key.text_px, max(room, _MIN_FONT_SIZE)))
    width = sum(part.width for part in parts) + gap * (len(parts) - 1)
    height = max(part.height for part in parts)
    tile = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    x = 0
    for part in parts:
        tile.alpha_composite(part, (x, (height - part.height) // 2))
        x += part.width + gap
    if key.alpha < 255:
        faded = tile.getchannel("A").point(lambda value: value * key.alpha // 255)
        tile.putalpha(faded)
    return tile


def _text_tile(text: str, text_px: int, max_width: int) -> Image.Image:
    """White text with a dark outline, shrunk until it fits `max_width`."""
    size = text_px
    while True:
        font = _font(size)
        stroke = max(1, round(size / 14))
        left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
        if right - left <= max_width or size <= _MIN_FONT_SIZE:
            break
        size = max(_MIN_FONT_SIZE, int(size * max_width / (right - left)))
    tile = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text(
        (-left, -top),
        text,
        font=font,
        fill=(255, 255, 255, 255),
        stroke_width=stroke,
        stroke_fill=(0, 0, 0, 200),
    )
    return tile


@lru_cache(maxsize=16)
def _tiled_overlay(key: _MarkKey, width: int, height: int, margin: int) -> Image.Image:
    """A full-size overlay with the mark repeated in a brick pattern (rows offset by half)."""
    tile = _mark(key)
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    step_x = tile.width + 4 * margin
    step_y = 2 * tile.height + 4 * margin
    for row, y in enumerate(range(margin, height, step_y)):
        offset = (step_x // 2) if row % 2 else 0
        for x in range(margin - offset, width, step_x):
            overlay.paste(tile, (x, y))
    return overlay
