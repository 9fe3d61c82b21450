"""EXIF orientation in every format that carries it, through every entry point: probe reports
the displayed size, open_image / resize_bytes / run_steps return the photo upright, and the
output carries no EXIF or GPS. (Pillow's TIFF plugin turns TIFFs itself: they must not be
turned twice.)"""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from processing import open_image, probe, run_steps
from processing.resize import resize_bytes

from .images import decode, exif_with_gps, png_chunk, save, stored_as, upright_card
from .test_loader import assert_red_block_top_left

FORMATS = ("JPEG", "PNG", "WEBP", "TIFF")
ORIENTATIONS = range(1, 9)


def oriented(fmt: str, orientation: int) -> bytes:
    """A 600x400 landscape card stored as a camera would for `orientation`, with GPS tags."""
    params = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "WEBP":
        params["lossless"] = True
    return save(stored_card(orientation), fmt, exif=exif_with_gps(orientation).tobytes(), **params)


def xmp(orientation: int) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        f'tiff:Orientation="{orientation}"/></rdf:RDF></x:xmpmeta>'
    )


def stored_card(orientation: int) -> Image.Image:
    return stored_as(orientation, upright_card((600, 400)))


def png_with_exif_after_the_pixels(orientation: int) -> bytes:
    data = save(stored_card(orientation), "PNG")
    end = data.index(b"IEND") - 4
    payload = exif_with_gps(orientation).tobytes().removeprefix(b"Exif\x00\x00")
    return data[:end] + png_chunk(b"eXIf", payload) + data[end:]


def png_with_xmp(orientation: int) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp(orientation))
    return save(stored_card(orientation), "PNG", pnginfo=info)


# Where else a photo's orientation can be: all of these Pillow turns when it decodes them.
ELSEWHERE = {
    "PNG, eXIf after the pixels": png_with_exif_after_the_pixels,
    "PNG, XMP only": png_with_xmp,
    "WebP, XMP only": lambda o: save(stored_card(o), "WEBP", lossless=True, xmp=xmp(o).encode()),
    "TIFF, XMP only": lambda o: save(stored_card(o), "TIFF", tiffinfo={700: xmp(o).encode()}),
    "JPEG, XMP only": lambda o: save(stored_card(o), "JPEG", quality=95, xmp=xmp(o).encode()),
}


@pytest.mark.parametrize("where", sorted(ELSEWHERE))
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_outside_exif_agrees_everywhere(where: str, orientation: int) -> None:
    data = ELSEWHERE[where](orientation)
    result = probe(data)
    assert (result.width, result.height) == (600, 400)
    for image in (open_image(data), resize_bytes(data, box=(600, 600))):
        assert image.size == (600, 400)
        assert_red_block_top_left(image)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_probe_reports_the_displayed_size(fmt: str, orientation: int) -> None:
    data = oriented(fmt, orientation)
    stored = Image.open(io.BytesIO(data))
    assert stored.format == fmt
    result = probe(data)
    assert (result.width, result.height) == (600, 400)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_every_entry_point_returns_the_photo_upright(fmt: str, orientation: int) -> None:
    data = oriented(fmt, orientation)
    opened = open_image(data)
    assert opened.size == (600, 400)
    assert_red_block_top_left(opened)
    fitted = resize_bytes(data, box=(300, 300))
    assert fitted.size == (300, 200)
    assert_red_block_top_left(fitted)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("output", ["JPEG", "PNG", "WEBP"])
def test_the_whole_chain_outputs_upright_pixels_and_no_gps(
    fmt: str, orientation: int, output: str
) -> None:
    data = oriented(fmt, orientation)
    result = run_steps(
        data, box=(300, 300), detect=False, watermark_options=None, output_format=output
    )
    assert (result.width, result.height) == (300, 200)
    reopened = decode(result.data)
    assert len(reopened.getexif()) == 0 and "exif" not in reopened.info
    assert b"SecretCam" not in result.data and b"Exif" not in result.data
    assert_red_block_top_left(reopened.convert("RGB"))


TURNED = {fmt: oriented(fmt, 6) for fmt in FORMATS}  # built before any guard is in place


@pytest.mark.parametrize("fmt", FORMATS)
def test_probe_reads_the_orientation_without_decoding(fmt: str, no_decoding: list[str]) -> None:
    # (PNGs without EXIF, whose getexif() would decode them: test_probe_never_decodes_pixels.)
    result = probe(TURNED[fmt])
    assert (result.width, result.height) == (600, 400)
    assert no_decoding == []
