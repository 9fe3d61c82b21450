"""Built-in detectors on real photos, each resized to fit 1024 px as the platform does."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from processing.detect import detect, hamming_distance

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
PHOTOS_WITHOUT_FACES = ["chelsea.png", "coffee.png", "rocket.jpg", "page.png"]
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]


def photo(name: str) -> Image.Image:
    image = Image.open(TESTDATA / name)
    image = image.convert("RGB")
    image.thumbnail((1024, 1024))
    return image


@pytest.fixture(scope="module")
def astronaut() -> dict:
    return detect(photo("astronaut.png"))


def test_exactly_one_face_is_found_on_the_astronaut(astronaut: dict) -> None:
    (face,) = astronaut["faces"]
    x, y, w, h = face["box"]
    centre_x, centre_y = x + w / 2, y + h / 2
    assert 512 / 4 < centre_x < 512 * 3 / 4, "face centre in the middle half horizontally"
    assert centre_y < 512 / 2, "face centre in the upper half"
    assert 0.5 <= face["confidence"] <= 1


@pytest.mark.parametrize("name", PHOTOS_WITHOUT_FACES)
def test_no_face_is_reported_where_there_is_none(name: str) -> None:
    assert detect(photo(name), ["faces"])["faces"] == []


def test_face_boxes_are_integer_pixels_inside_the_image(astronaut: dict) -> None:
    (face,) = astronaut["faces"]
    x, y, w, h = face["box"]
    assert all(isinstance(value, int) for value in face["box"])
    assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 512 and y + h <= 512


def test_the_astronaut_is_a_person_and_the_cat_is_not(astronaut: dict) -> None:
    (person,) = astronaut["people"]
    (face,) = astronaut["faces"]
    px, py, pw, ph = person["box"]
    fx, fy, fw, fh = face["box"]
    assert px <= fx + fw / 2 <= px + pw and py <= fy + fh / 2 <= py + ph, "face inside person"
    assert detect(photo("chelsea.png"), ["people"])["people"] == []


def test_two_people_side_by_side_are_both_reported() -> None:
    astronaut = photo("astronaut.png")
    pair = Image.new("RGB", (1024, 512), (120, 120, 120))
    pair.paste(astronaut, (0, 0))
    pair.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    found = detect(pair, ["faces", "people"])
    assert len(found["faces"]) == 2
    assert len(found["people"]) == 2
    assert {"face", "faces", "person", "people"} <= set(found["labels"])


def test_the_scanned_page_looks_like_a_document() -> None:
    assert detect(photo("page.png"), ["document"])["is_document"] is True


@pytest.mark.parametrize("name", [*PHOTOS, "motorcycle_left.png"])
def test_photos_do_not_look_like_documents(name: str) -> None:
    assert detect(photo(name), ["document"])["is_document"] is False


def test_a_greyscale_photo_is_not_a_document() -> None:
    grey = photo("astronaut.png").convert("L").convert("RGB")
    assert detect(grey, ["document"])["is_document"] is False


def jpeg_copy(image: Image.Image, scale: float, quality: int) -> Image.Image:
    size = (round(image.width * scale), round(image.height * scale))
    buffer = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.mark.parametrize("name", PHOTOS)
def test_a_resized_recompressed_copy_has_a_near_identical_phash(name: str) -> None:
    original = photo(name)
    digest = detect(original, ["phash"])["phash"]
    for scale, quality in ((0.5, 70), (0.25, 50)):
        copy = detect(jpeg_copy(original, scale, quality), ["phash"])["phash"]
        assert hamming_distance(digest, copy) <= 6


def test_different_photos_have_distant_phashes() -> None:
    digests = [detect(photo(name), ["phash"])["phash"] for name in PHOTOS]
    for index, first in enumerate(digests):
        for second in digests[index + 1 :]:
            assert hamming_distance(first, second) > 16


def test_phash_is_16_hex_characters(astronaut: dict) -> None:
    assert len(astronaut["phash"]) == 16
    int(astronaut["phash"], 16)


def test_hamming_distance_counts_differing_bits() -> None:
    assert hamming_distance("0000000000000000", "0000000000000000") == 0
    assert hamming_distance("0000000000000000", "000000000000000f") == 4
    assert hamming_distance("ffffffffffffffff", "0000000000000000") == 64
    with pytest.raises(ValueError):
        hamming_distance("00", "0000")


def test_brightness_runs_from_black_to_white() -> None:
    white = detect(Image.new("RGB", (640, 480), "white"), ["brightness"])
    black = detect(Image.new("RGB", (640, 480), "black"), ["brightness"])
    assert white["brightness"] == pytest.approx(1.0, abs=0.01)
    assert black["brightness"] == pytest.approx(0.0, abs=0.01)
    assert "bright" in white["labels"] and "dark" in black["labels"]


def test_blurring_lowers_sharpness_and_is_flagged() -> None:
    original = photo("astronaut.png")
    sharp = detect(original, ["sharpness"])
    blurred = detect(original.filter(ImageFilter.GaussianBlur(3)), ["sharpness"])
    assert blurred["sharpness"] < sharp["sharpness"] / 10
    assert sharp["is_blurry"] is False
    assert blurred["is_blurry"] is True and "blurry" in blurred["labels"]


def test_a_flat_colour_is_not_called_blurry() -> None:
    assert detect(Image.new("RGB", (300, 200), "grey"), ["sharpness"])["is_blurry"] is False


def test_pure_red_has_one_dominant_colour() -> None:
    found = detect(Image.new("RGB", (800, 600), (255, 0, 0)), ["colors"])
    (colour,) = found["dominant_colors"]
    assert colour["hex"] == "#ff0000"
    assert colour["fraction"] == pytest.approx(1.0)


def test_dominant_colour_fractions_add_up_and_are_sorted(astronaut: dict) -> None:
    fractions = [colour["fraction"] for colour in astronaut["dominant_colors"]]
    assert 1 <= len(fractions) <= 5
    assert sum(fractions) == pytest.approx(1.0, abs=0.01)
    assert fractions == sorted(fractions, reverse=True)


def test_half_red_half_blue() -> None:
    image = Image.new("RGB", (200, 100), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 100, 100))
    colours = {c["hex"]: c["fraction"] for c in detect(image, ["colors"])["dominant_colors"]}
    half = pytest.approx(0.5, abs=0.02)
    assert colours == {"#ff0000": half, "#0000ff": half}


def test_colourful_and_monochrome_labels() -> None:
    assert "monochrome" in detect(photo("page.png"))["labels"]
    assert "colorful" in detect(photo("coffee.png"))["labels"]
    assert "monochrome" not in detect(photo("coffee.png"))["labels"]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1024, 576), "landscape"),
        ((576, 1024), "portrait"),
        ((512, 512), "square"),
        ((1000, 980), "square"),
    ],
)
def test_orientation(size: tuple[int, int], expected: str) -> None:
    found = detect(Image.new("RGB", size, "white"), ["orientation"])
    assert found["orientation"] == expected
    assert expected in found["labels"]


def test_labels_name_the_face_on_the_astronaut_but_not_on_the_cat(astronaut: dict) -> None:
    assert {"face", "person", "square"} <= set(astronaut["labels"])
    cat = detect(photo("chelsea.png"))
    assert "face" not in cat["labels"] and "person" not in cat["labels"]
    assert "document" not in cat["labels"]


def test_all_detectors_together_give_json_serialisable_plain_values(astronaut: dict) -> None:
    expected = {
        "faces",
        "people",
        "dominant_colors",
        "brightness",
        "sharpness",
        "is_blurry",
        "phash",
        "orientation",
        "is_document",
        "labels",
    }
    assert expected <= astronaut.keys()
    assert json.loads(json.dumps(astronaut, allow_nan=False)) == astronaut


def test_rgba_and_greyscale_images_are_accepted() -> None:
    rgba = photo("astronaut.png").convert("RGBA")
    rgba.putalpha(200)
    assert len(detect(rgba)["faces"]) == 1
    grey = Image.open(TESTDATA / "page.png")
    assert grey.mode == "L"
    assert detect(grey)["is_document"] is True


def test_transparent_pixels_are_seen_as_white() -> None:
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    assert detect(clear, ["brightness"])["brightness"] == pytest.approx(1.0)


def test_the_faces_only_people_variant_finds_the_astronaut() -> None:
    from processing.detectors.people import detect_people_from_faces

    image = photo("astronaut.png")
    (person,) = detect_people_from_faces(image)["people"]
    (face,) = detect(image, ["faces"])["faces"]
    px, py, pw, ph = person["box"]
    fx, fy, fw, fh = face["box"]
    assert px <= fx and py <= fy and fx + fw <= px + pw and fy + fh <= py + ph
    assert detect_people_from_faces(photo("chelsea.png"))["people"] == []


def test_a_person_too_small_for_the_face_detector_is_found_by_the_person_detector() -> None:
    small = Image.new("RGB", (1024, 576), (120, 120, 120))
    small.paste(photo("astronaut.png").resize((200, 200)), (400, 376))
    found = detect(small, ["faces", "people"])
    assert found["faces"] == []  # so the cascade falls through to BlazePose's person detector
    (person,) = found["people"]
    x, y, w, h = person["box"]
    assert x <= 500 <= x + w and y <= 476 <= y + h  # around the pasted astronaut


def test_the_thorough_people_variant_runs_the_person_detector_beside_faces() -> None:
    from processing.detectors.people import detect_people_thorough

    (person,) = detect_people_thorough(photo("astronaut.png"))["people"]
    assert person["confidence"] > 0.5
