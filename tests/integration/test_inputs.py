"""Odd but valid inputs go through the whole stack and come out right; bad ones fail cleanly."""

import io

import numpy as np
import pytest
from PIL import Image

from jobs.models import Job
from tests.integration.conftest import staff_api, wait_for_terminal
from tests.processing.images import oriented_jpeg, photo, sample_bytes, save, upright_card

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _rgba_with_hole() -> Image.Image:
    image = photo((300, 200)).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 100, 100))
    return image


def _palette_with_transparency() -> bytes:
    image = photo((300, 200)).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    image.info["transparency"] = 0
    return save(image, "PNG", transparency=0)


ODD_INPUTS = {
    "cmyk.jpg": lambda: save(photo((640, 480)).convert("CMYK"), "JPEG"),
    "16bit.png": lambda: save(
        Image.fromarray(np.tile(np.arange(0, 65536, 128, dtype=np.uint16), (64, 1))), "PNG"
    ),
    "palette-alpha.png": _palette_with_transparency,
    "grey-alpha.png": lambda: save(photo((320, 240)).convert("LA"), "PNG"),
    "progressive.jpg": lambda: save(photo((2000, 1500)), "JPEG", progressive=True),
    "photo.webp": lambda: save(photo((800, 600)), "WEBP"),
    "photo.tiff": lambda: save(photo((800, 600)), "TIFF"),
    "animated.gif": lambda: sample_bytes("no_time_for_that_tiny.gif"),
}


def _submit(data: bytes, name: str, **fields: str) -> str:
    upload = io.BytesIO(data)
    upload.name = name
    response = staff_api().post("/api/v1/jobs/", {"file": upload, **fields}, format="multipart")
    assert response.status_code == 202, (name, response.content)
    return response.json()["id"]


def test_odd_inputs_all_complete_as_rgb_jpegs(worker):
    job_ids = {name: _submit(make(), name) for name, make in ODD_INPUTS.items()}
    for name, job_id in job_ids.items():
        job = wait_for_terminal(job_id)
        assert job.status == Job.Status.COMPLETED, (name, job.error)
        result = staff_api().get(f"/api/v1/jobs/{job_id}/result/")
        image = Image.open(io.BytesIO(b"".join(result.streaming_content)))
        assert image.format == "JPEG" and image.mode == "RGB", name
        assert max(image.size) <= 1024, name


def test_exif_rotated_photo_comes_out_upright_without_gps(worker):
    card = upright_card((600, 400))
    job = wait_for_terminal(_submit(oriented_jpeg(6, card), "rotated.jpg"))
    assert job.status == Job.Status.COMPLETED, job.error
    assert (job.original_width, job.original_height) == (600, 400)  # as displayed, not stored
    data = b"".join(staff_api().get(f"/api/v1/jobs/{job.pk}/result/").streaming_content)
    image = Image.open(io.BytesIO(data))
    assert image.size == (600, 400)  # landscape again
    red, green, blue = image.convert("RGB").getpixel((20, 20))
    assert red > 200 and blue < 80  # the red block is back in the top-left corner
    assert not image.getexif() and "exif" not in image.info


def test_png_output_keeps_the_transparency(worker):
    job_id = _submit(save(_rgba_with_hole(), "PNG"), "hole.png", output_format="png")
    job = wait_for_terminal(job_id)
    assert job.status == Job.Status.COMPLETED, job.error
    data = b"".join(staff_api().get(f"/api/v1/jobs/{job_id}/result/").streaming_content)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "RGBA"
    assert image.getpixel((10, 10))[3] == 0 and image.getpixel((250, 50))[3] == 255
