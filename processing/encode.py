"""Encoding to the output formats. Outputs carry no metadata at all: no EXIF (GPS, camera
serials), no ICC profile (pixels are already sRGB), no XMP, no comments."""

from __future__ import annotations

import io

from PIL import Image

_OUTPUT_FORMATS = ("JPEG", "PNG", "WEBP")
_MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
}
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "TIFF": "tif"}
_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
_WHITE = (255, 255, 255)


def output_format_names() -> list[str]:
    """Every spelling normalise_format accepts, lower case ("jpeg", "jpg", "png", "webp")."""
    aliases = [alias for alias, name in _ALIASES.items() if name in _OUTPUT_FORMATS]
    return sorted(name.lower() for name in (*_OUTPUT_FORMATS, *aliases))


def normalise_format(format: str) -> str:
    """"jpg", "jpeg", "JPEG" -> "JPEG"; ValueError for anything that is not an output format."""
    name = str(format).strip().upper()
    name = _ALIASES.get(name, name)
    if name not in _OUTPUT_FORMATS:
        raise ValueError(
            f"unsupported output format {format!r} (choose {', '.join(_OUTPUT_FORMATS)})"
        )
    return name


def encode(image: Image.Image, format: str = "JPEG", quality: int = 85) -> bytes:
    """Encode `image` as JPEG (progressive, optimized), PNG or WebP without any metadata.

    `quality` (1..95) applies to JPEG and WebP; PNG is lossless and ignores it. RGBA becomes
    JPEG by flattening onto white, since JPEG has no alpha and black is rarely what was meant.
    """
    fmt = normalise_format(format)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise ValueError(f"quality must be an integer between 1 and 95 (got {quality!r})")
    image = _stripped(_for_format(image, fmt))
    buffer = io.BytesIO()
    if fmt == "JPEG":
        # Pillow's default 4:2:0 subsampling is kept: it is what every camera and browser does.
        image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    elif fmt == "PNG":
        # Level 6 is zlib's default balance; 9 costs several times the time for ~2% size.
        image.save(buffer, "PNG", compress_level=6)
    else:
        image.save(buffer, "WEBP", quality=quality, method=4)
    return buffer.getvalue()


def encode_intermediate(image: Image.Image, quality: int = 95) -> tuple[bytes, str]:
    """(data, format) of an image handed from one stage to the next: baseline JPEG, or PNG
    when it has alpha, both at their cheapest settings.

    Progressive scans and optimized Huffman tables only rearrange and re-code the same DCT
    coefficients, so the pixels decoded are identical to encode()'s at the same quality; they
    cost ~3x the encode time and a slower decode, for bytes that only travel to the next stage.
    """
    fmt = "PNG" if image.mode == "RGBA" else "JPEG"
    image = _stripped(_for_format(image, fmt))
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue(), fmt


def media_type(format: str) -> str:
    """"JPEG" -> "image/jpeg"; also knows the accepted input formats GIF and TIFF."""
    return _MEDIA_TYPES[_known(format)]


def extension(format: str) -> str:
    """"JPEG" -> "jpg" (no dot); also knows the accepted input formats GIF and TIFF."""
    return _EXTENSIONS[_known(format)]


def _known(format: str) -> str:
    name = str(format).strip().upper()
    name = _ALIASES.get(name, name)
    if name not in _MEDIA_TYPES:
        raise ValueError(f"unknown image format {format!r}")
    return name


def _for_format(image: Image.Image, fmt: str) -> Image.Image:
    """Convert to a mode the encoder stores faithfully."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if fmt == "JPEG":
        if has_alpha:
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, _WHITE)
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if has_alpha:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    if fmt == "PNG" and image.mode in ("RGB", "L"):
        return image
    return image if image.mode == "RGB" else image.convert("RGB")


def _stripped(image: Image.Image) -> Image.Image:
    """An image whose `info` is empty.

    Some encoders fall back to `image.info` for what is not passed explicitly (PNG takes the
    ICC profile from it, JPEG the comment), so metadata must not ride along in `info`. The
    loader already returns images with empty info; only foreign images pay for this copy.
    """
    if not image.info:
        return image
    clean = image.copy()
    clean.info = {}
    return clean
