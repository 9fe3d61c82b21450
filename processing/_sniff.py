"""Format sniffing from magic bytes: the file name and the client's content type are never
trusted. Common non-images are named so the user learns what they actually sent."""

from __future__ import annotations

from .errors import UnsupportedFormat

# The formats the platform accepts, with their media types.
ACCEPTED: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
}

_ACCEPTED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
)

# Things people upload by mistake, recognised so the message can name them.
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP"),
    (b"PK\x05\x06", "ZIP"),
    (b"PK\x07\x08", "ZIP"),
    (b"\x1f\x8b", "GZIP"),
    (b"BZh", "BZIP2"),
    (b"\xfd7zXZ\x00", "XZ"),
    (b"7z\xbc\xaf\x27\x1c", "7Z"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"BM", "BMP"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "PostScript"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xffO\xffQ", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"qoif", "QOI"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"OggS", "OGG"),
    (b"ID3", "MP3"),
    (b"fLaC", "FLAC"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM video"),
    (b"SQLite format 3\x00", "SQLite"),
)

# ISO base media ("....ftyp<brand>"): HEIC/AVIF photos and MP4/MOV videos share the container.
_FTYP_BRANDS: dict[bytes, str] = {
    b"heic": "HEIC", b"heix": "HEIC", b"heim": "HEIC", b"heis": "HEIC", b"hevc": "HEIC",
    b"hevx": "HEIC", b"mif1": "HEIC", b"msf1": "HEIC", b"avif": "AVIF", b"avis": "AVIF",
    b"qt  ": "MOV", b"crx ": "CR3",
}

_RIFF_KINDS: dict[bytes, str] = {b"WAVE": "WAV", b"AVI ": "AVI"}


def sniff(data: bytes) -> str:
    """Return the accepted format name for `data`, or raise UnsupportedFormat naming what it is."""
    if not data:
        raise UnsupportedFormat("empty file")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _ACCEPTED_MAGIC:
        if data.startswith(magic):
            return name
    raise UnsupportedFormat(f"unsupported format ({describe_unsupported(data)})")


def describe_unsupported(data: bytes) -> str:
    """A short human name for data that is not an accepted image ("PDF", "text", ...)."""
    for magic, name in _OTHER_MAGIC:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(data[8:12], "MP4 video")
    if data[:4] == b"RIFF":
        return _RIFF_KINDS.get(data[8:12], "RIFF")
    return _describe_text(data[:4096]) or "unknown data"


def _describe_text(head: bytes) -> str | None:
    """Name markup and plain text; None for binary data."""
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):
            encoding = {3: "utf-8", 2: "utf-16"}[len(bom)]
            try:
                text = head.decode(encoding, errors="ignore")
            except LookupError:  # pragma: no cover - the codecs always exist
                return None
            break
    else:
        try:
            # The 4 KB cut may split a multi-byte character: ignore only the tail.
            text = head.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                return None
            text = head[: exc.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    if any(ch < " " and ch not in "\t\n\r\f" for ch in text):
        return None
    lowered = text.lstrip().lower()
    if lowered.startswith("<"):
        # SVG files often start with an XML declaration, a doctype or a comment.
        if lowered.startswith(("<!doctype html", "<html")):
            return "HTML"
        if "<svg" in lowered:
            return "SVG"
        return "XML" if lowered.startswith("<?xml") else "HTML/XML markup"
    if lowered.startswith(("{", "[")):
        return "JSON"
    return "text"
