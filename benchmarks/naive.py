"""The baseline: the chain written the way simple projects write it.

Full decode (open, then convert, which loads every pixel before any resizing is asked for),
`thumbnail()`, a text watermark drawn on a full-size RGBA overlay and alpha-composited, then
`save(JPEG, quality=85)`. Same font, size, position and opacity as ours, so the pixels produced
are comparable; only the method differs.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BOX = (1024, 1024)
FONT = Path(__file__).resolve().parent.parent / "processing" / "fonts" / "DejaVuSans-Bold.ttf"
TEXT = "© Photopipe"


def decode_resize(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail(BOX)
    return image


def watermark(image: Image.Image) -> Image.Image:
    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(overlay)
    font = ImageFont.truetype(str(FONT), max(12, round(0.05 * min(base.size))))
    left, top, right, bottom = draw.textbbox((0, 0), TEXT, font=font)
    margin = round(0.02 * min(base.size))
    at = (base.width - (right - left) - margin - left, base.height - (bottom - top) - margin - top)
    draw.text(at, TEXT, font=font, fill=(255, 255, 255, round(0.6 * 255)))
    return Image.alpha_composite(base, overlay).convert("RGB")


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def chain(data: bytes) -> bytes:
    """decode + thumbnail + watermark + encode (no detection: simple projects have none)."""
    return encode(watermark(decode_resize(data)))
