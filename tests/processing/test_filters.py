"""Filters: each does what its name says, alpha is kept, steps are validated strictly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageFilter

from processing.errors import InvalidStep
from processing.filters import (
    FILTERS,
    MAX_STEPS,
    Step,
    apply_steps,
    filter_catalogue,
    validate_steps,
)

from .images import RED, upright_card


def run(image: Image.Image, name: str, **params: object) -> Image.Image:
    return apply_steps(image, validate_steps([{"name": name, "params": params}]))


def arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(float)


def high_frequency(image: Image.Image) -> float:
    """Mean edge strength: falls when blurred, rises when sharpened."""
    return float(arr(image.convert("L").filter(ImageFilter.FIND_EDGES)).mean())


# What each filter does -------------------------------------------------------------------------


def test_every_filter_with_its_defaults_returns_rgb_and_leaves_the_input_alone(
    cat: Image.Image,
) -> None:
    before = cat.tobytes()
    unchanged = []
    for name in FILTERS:
        out = run(cat, name)
        assert out.mode == "RGB", name
        if out.size == cat.size and out.tobytes() == before:
            unchanged.append(name)
    assert cat.tobytes() == before
    assert unchanged == ["crop"], "only crop's default (the whole image) is a no-op"


def test_grayscale_makes_channels_equal(cat: Image.Image) -> None:
    out = arr(run(cat, "grayscale"))
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert out.std() > 10


def test_flip_mirrors() -> None:
    card = upright_card()
    horizontal = run(card, "flip", direction="horizontal")
    vertical = run(card, "flip", direction="vertical")
    assert horizontal.getpixel((55, 5)) == RED and horizontal.getpixel((5, 5)) != RED
    assert vertical.getpixel((5, 35)) == RED and vertical.getpixel((5, 5)) != RED
    assert arr(run(horizontal, "flip", direction="horizontal")).tolist() == arr(card).tolist()


def test_rotate_90_is_clockwise_and_swaps_dimensions_with_expand() -> None:
    card = upright_card()  # 60x40, red top-left
    turned = run(card, "rotate", angle=90, expand=True)
    assert turned.size == (40, 60)
    assert turned.getpixel((35, 5)) == RED  # top-left went to top-right
    assert run(card, "rotate", angle=-90).getpixel((5, 55)) == RED
    assert run(card, "rotate", angle=180).getpixel((55, 35)) == RED


def test_rotate_by_an_odd_angle(cat: Image.Image) -> None:
    expanded = run(cat, "rotate", angle=30, expand=True)
    kept = run(cat, "rotate", angle=30, expand=False, fill="white")
    assert expanded.width > cat.width and expanded.height > cat.height
    assert kept.size == cat.size and kept.getpixel((0, 0)) == (255, 255, 255)
    clear = run(cat, "rotate", angle=30, fill="transparent")
    assert clear.mode == "RGBA" and clear.getpixel((0, 0))[3] == 0


def test_crop_by_fractions_and_by_pixels(cat: Image.Image) -> None:
    assert cat.size == (451, 300)
    middle = run(cat, "crop", left=0.25, top=0.25, width=0.5, height=0.5)
    assert middle.size == (225, 150)  # 451 * 0.5 = 225.5
    pixels = run(cat, "crop", left=10, top=20, width=100, height=50, unit="px")
    assert pixels.size == (100, 50)
    assert pixels.tobytes() == cat.crop((10, 20, 110, 70)).tobytes()
    clipped = run(cat, "crop", left=400, top=0, width=500, height=500, unit="px")
    assert clipped.size == (51, 300)


def test_crop_outside_the_image_says_so(cat: Image.Image) -> None:
    steps = validate_steps(
        ["grayscale", {"name": "crop", "params": {"left": 1000, "width": 10, "unit": "px"}}]
    )
    with pytest.raises(InvalidStep) as refused:
        apply_steps(cat, steps)
    assert str(refused.value) == "steps[1] crop: the region lies outside the 451x300 image"


def test_brightness_contrast_saturation(cat: Image.Image) -> None:
    base = arr(cat)
    assert arr(run(cat, "brightness", factor=1.5)).mean() > base.mean() + 10
    assert arr(run(cat, "brightness", factor=0.5)).mean() < base.mean() - 10
    assert arr(run(cat, "contrast", factor=1.8)).std() > base.std() + 5
    assert arr(run(cat, "contrast", factor=0.3)).std() < base.std() - 5
    grey = arr(run(cat, "saturation", factor=0))
    assert np.abs(grey[..., 0] - grey[..., 2]).max() <= 1
    vivid = arr(run(cat, "saturation", factor=2))
    chroma = (vivid.max(axis=2) - vivid.min(axis=2)).mean()
    assert chroma > (base.max(axis=2) - base.min(axis=2)).mean() + 5


def test_blur_lowers_and_sharpening_raises_high_frequencies(cat: Image.Image) -> None:
    base = high_frequency(cat)
    assert high_frequency(run(cat, "blur", radius=3)) < base * 0.6
    assert high_frequency(run(cat, "blur", radius=0)) == pytest.approx(base)
    assert high_frequency(run(cat, "sharpen", amount=2)) > base * 1.2
    assert high_frequency(run(cat, "unsharp_mask", radius=2, percent=200, threshold=0)) > base * 1.2


def test_median_removes_speckles() -> None:
    rng = np.random.default_rng(7)
    flat = np.full((100, 100, 3), 128, dtype=np.uint8)
    speckled = flat.copy()
    speckled[rng.random((100, 100)) < 0.05] = 255
    out = arr(run(Image.fromarray(speckled), "median", size=3))
    assert (out == 255).sum() < (speckled == 255).sum() / 20


def test_denoise_removes_noise_and_keeps_edges() -> None:
    # Two flat halves with a hard edge between, plus Gaussian sensor-like noise.
    clean = np.zeros((120, 160, 3), dtype=np.float64)
    clean[:, :80] = 60
    clean[:, 80:] = 190
    rng = np.random.default_rng(3)
    noisy = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
    out = arr(run(Image.fromarray(noisy), "denoise", strength=12))
    noise_before = np.abs(noisy.astype(float) - clean).mean()
    noise_after = np.abs(out - clean).mean()
    assert noise_after < noise_before / 3
    # The edge stays a step (a blur would smear it over several columns).
    profile = out[:, 74:86].mean(axis=(0, 2))
    assert profile[:5].max() < 80 and profile[7:].min() > 170


def test_up_to_three_cpu_heavy_steps_per_job() -> None:
    assert len(validate_steps(["denoise", "median", "blur", "denoise"])) == 4
    with pytest.raises(InvalidStep, match="too many CPU-heavy steps: 4"):
        validate_steps(["median"] * 4)


def test_sepia_tints_brown_and_intensity_zero_is_identity(cat: Image.Image) -> None:
    grey = Image.new("RGB", (10, 10), (128, 128, 128))
    r, g, b = run(grey, "sepia").getpixel((5, 5))
    assert r > g > b
    assert run(cat, "sepia", intensity=0).tobytes() == cat.tobytes()


def test_invert_and_autocontrast(cat: Image.Image) -> None:
    assert (arr(run(cat, "invert")) == 255 - arr(cat)).all()
    dull = Image.fromarray((arr(cat) * 0.3 + 80).astype(np.uint8))
    stretched = arr(run(dull, "autocontrast", cutoff=0))
    assert stretched.min() == 0 and stretched.max() == 255


def test_posterize_and_pixelate(cat: Image.Image) -> None:
    poster = arr(run(cat, "posterize", bits=2))
    assert len(np.unique(poster[..., 0])) <= 4
    blocks = arr(run(cat, "pixelate", block=10))
    assert blocks.shape == arr(cat).shape
    tile = blocks[10:20, 30:40]
    assert (tile == tile[0, 0]).all()
    assert not (blocks[5:15, 30:40] == blocks[5, 30]).all(), "blocks start at multiples of 10"


def test_emboss_edge_enhance_vignette(cat: Image.Image) -> None:
    flat = Image.new("RGB", (50, 50), (200, 30, 30))
    embossed = arr(run(flat, "emboss"))[5:-5, 5:-5]
    assert (embossed == embossed[0, 0]).all() and embossed[0, 0, 0] != 200
    assert high_frequency(run(cat, "edge_enhance", strength="more")) > high_frequency(
        run(cat, "edge_enhance")
    ) > high_frequency(cat)
    white = Image.new("RGB", (200, 100), "white")
    vignetted = arr(run(white, "vignette", strength=0.8))
    assert vignetted[50, 100, 0] >= 250
    assert vignetted[0, 0, 0] < 70


# Alpha -----------------------------------------------------------------------------------------


@pytest.fixture
def translucent(cat: Image.Image) -> Image.Image:
    image = cat.copy()
    image.putalpha(Image.linear_gradient("L").resize(cat.size))
    return image


@pytest.mark.parametrize("name", sorted(n for n, spec in FILTERS.items() if spec.keeps_alpha))
def test_colour_filters_keep_alpha_exactly(translucent: Image.Image, name: str) -> None:
    out = run(translucent, name)
    assert out.mode == "RGBA"
    assert out.getchannel("A").tobytes() == translucent.getchannel("A").tobytes()


def test_geometric_filters_move_alpha_with_the_pixels(translucent: Image.Image) -> None:
    flipped = run(translucent, "flip", direction="vertical")
    expected = translucent.getchannel("A").transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    assert flipped.getchannel("A").tobytes() == expected.tobytes()
    assert run(translucent, "crop", width=0.5).size == (226, 300)


# Validation ------------------------------------------------------------------------------------


def test_valid_steps_are_typed_and_completed_with_defaults() -> None:
    steps = validate_steps(
        ["grayscale", {"name": "blur", "params": {"radius": 3}}, {"name": "flip"}]
    )
    assert steps == [
        Step("grayscale", {}),
        Step("blur", {"radius": 3.0}),
        Step("flip", {"direction": "horizontal"}),
    ]
    assert isinstance(steps[1].params["radius"], float)
    assert validate_steps(json.dumps([s.to_dict() for s in steps])) == steps
    assert validate_steps(None) == [] and validate_steps([]) == []
    assert validate_steps([{"name": "median", "params": {"size": 5.0}}])[0].params == {"size": 5}
    assert len(validate_steps(["grayscale"] * MAX_STEPS)) == MAX_STEPS


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            ["grayscale", {"name": "blur", "params": {"radius": 80}}],
            "steps[1] blur: radius must be between 0 and 50 (got 80)",
        ),
        (
            [{"name": "blur", "params": {"radius": -1.5}}],
            "steps[0] blur: radius must be between 0 and 50 (got -1.5)",
        ),
        (
            [{"name": "blur", "params": {"sigma": 2}}],
            "steps[0] blur: unknown parameter 'sigma' (blur takes radius)",
        ),
        (
            [{"name": "grayscale", "params": {"amount": 1}}],
            "steps[0] grayscale: unknown parameter 'amount' (grayscale takes no parameters)",
        ),
        (
            [{"name": "blur", "params": {"radius": "2"}}],
            "steps[0] blur: radius must be a number (got '2')",
        ),
        (
            [{"name": "blur", "params": {"radius": True}}],
            "steps[0] blur: radius must be a number (got True)",
        ),
        (
            [{"name": "median", "params": {"size": 2.5}}],
            "steps[0] median: size must be a whole number (got 2.5)",
        ),
        ([{"name": "median", "params": {"size": 4}}], "steps[0] median: size must be odd (got 4)"),
        (
            [{"name": "denoise", "params": {"search": 20}}],
            "steps[0] denoise: search must be odd (got 20)",
        ),
        (
            ["denoise", "blur", "median", "denoise", "median"],
            "too many CPU-heavy steps: 4 (denoise, median, denoise, median) is over the limit of 3",
        ),
        (
            [{"name": "rotate", "params": {"expand": 1}}],
            "steps[0] rotate: expand must be true or false (got 1)",
        ),
        (
            [{"name": "flip", "params": {"direction": "diagonal"}}],
            "steps[0] flip: direction must be one of horizontal, vertical (got 'diagonal')",
        ),
        (
            [{"name": "crop", "params": {"left": 0.5, "width": 0.7}}],
            "steps[0] crop: the region must lie inside the image "
            "(left + width and top + height <= 1)",
        ),
        (
            [{"name": "crop", "params": {"left": 2}}],
            "steps[0] crop: left must be between 0 and 1 with unit fraction (got 2)",
        ),
        (
            [{"name": "crop", "params": {"width": 10.5, "unit": "px"}}],
            "steps[0] crop: width must be a whole number of pixels with unit px (got 10.5)",
        ),
        (
            [{"name": "blur", "radius": 2}],
            'steps[0] blur: unknown key "radius" (parameters go in "params")',
        ),
        ([{"params": {}}], 'steps[0] must have a "name"'),
        (
            [{"name": "blur", "params": [2]}],
            'steps[0] blur: "params" must be an object (got [2])',
        ),
        (
            [5],
            'steps[0] must be a filter name or an object with "name" and "params" (got 5)',
        ),
        ({"name": "blur"}, "steps must be a list (got dict)"),
        ("blur, sharpen", "steps must be a JSON list of filter steps"),
        (["grayscale"] * (MAX_STEPS + 1), "too many steps: 21 is over the 20 step limit"),
    ],
)
def test_invalid_steps_are_refused_with_a_readable_message(raw: object, message: str) -> None:
    with pytest.raises(InvalidStep) as refused:
        validate_steps(raw)
    assert str(refused.value) == message


def test_unknown_filter_lists_the_available_ones() -> None:
    with pytest.raises(InvalidStep) as refused:
        validate_steps(["grayscale", "blurr"])
    assert str(refused.value).startswith("steps[1]: unknown filter 'blurr' (available: ")
    assert "blur, brightness" in str(refused.value)


def test_hand_built_steps_are_validated_too(cat: Image.Image) -> None:
    with pytest.raises(InvalidStep, match=r"^steps\[0\] blur: radius must be between"):
        apply_steps(cat, [Step("blur", {"radius": 500})])
    assert apply_steps(cat, [Step("blur")]).size == cat.size  # defaults filled in


# Catalogue -------------------------------------------------------------------------------------

REQUIRED = {
    "blur", "sharpen", "unsharp_mask", "brightness", "contrast", "saturation", "grayscale",
    "sepia", "rotate", "flip", "crop", "median", "emboss", "edge_enhance", "posterize",
    "pixelate", "vignette", "denoise",
}


def test_catalogue_lists_every_filter_with_typed_params() -> None:
    catalogue = filter_catalogue()
    names = [entry["name"] for entry in catalogue]
    assert names == sorted(FILTERS)
    assert set(names) >= REQUIRED
    json.dumps(catalogue)  # JSON-ready for the API
    heavy = sorted(entry["name"] for entry in catalogue if entry["cpu_heavy"])
    assert heavy == ["denoise", "median"]
    for entry in catalogue:
        assert entry["description"]
        for param in entry["params"]:
            assert set(param) >= {"name", "type", "default", "min", "max", "choices"}
            assert param["type"] in {"int", "float", "bool", "str"}
            if param["min"] is not None:
                assert param["min"] <= param["default"] <= param["max"]
            if param["choices"]:
                assert param["default"] in param["choices"]
    blur = next(entry for entry in catalogue if entry["name"] == "blur")
    assert blur["params"][0] | {"description": ""} == {
        "name": "radius", "type": "float", "default": 2.0, "min": 0, "max": 50,
        "choices": None, "description": "",
    }
