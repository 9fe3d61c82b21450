"""Filters as named steps with typed, validated parameters.

FILTERS is the registry: the API validates a job's `steps` against it (validate_steps) and
publishes it (filter_catalogue); workers run the validated steps (apply_steps). Each filter is
a plain function (image, params) -> image over RGB. Colour filters see only the RGB bands and
the alpha band is put back afterwards; geometric ones (rotate, flip, crop, pixelate) get the
whole image so the alpha moves with the pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from .errors import InvalidStep

MAX_STEPS = 20
# CPU-heavy steps take up to ~3 s each on a 1024 px image and cannot be interrupted inside
# OpenCV or Pillow: a few per job keeps a stage far inside its time limit.
MAX_HEAVY_STEPS = 3

FilterFn = Callable[[Image.Image, dict[str, Any]], Image.Image]
CheckFn = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class Param:
    """One typed parameter. `type` is int, float, bool or str; str params have `choices`."""

    name: str
    type: type
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    description: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class FilterSpec:
    name: str
    description: str
    apply: FilterFn
    params: tuple[Param, ...] = ()
    keeps_alpha: bool = True  # True: filter RGB, keep alpha. False: geometric, alpha moves too
    check: CheckFn | None = None  # cross-parameter rules; returns an error message or None
    # Published in the catalogue: a step that costs ~0.1-1 s of CPU on a 1024 px image rather
    # than milliseconds, so clients know what makes a job slow.
    cpu_heavy: bool = False


@dataclass(frozen=True)
class Step:
    """A validated step: `params` holds every parameter, defaults filled in, so a stored job
    records exactly what ran even if a default changes later."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}


FILTERS: dict[str, FilterSpec] = {}


def register_filter(spec: FilterSpec) -> FilterSpec:
    """Add a filter to the registry (plugins and tests can add their own)."""
    for param in spec.params:
        _coerce(param.default, param, f"{spec.name} default")  # a bad default is a bug
    FILTERS[spec.name] = spec
    return spec


# Validation ------------------------------------------------------------------------------------


def validate_steps(raw: Any) -> list[Step]:
    """Turn a job's raw `steps` into validated Steps, or raise InvalidStep saying what is wrong.

    Accepts a list (or its JSON text, as sent in a multipart form) whose items are a filter
    name ("grayscale") or {"name": "blur", "params": {"radius": 2}}.
    """
    if raw is None:
        return []
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidStep("steps must be a JSON list of filter steps") from None
    if not isinstance(raw, list | tuple):
        raise InvalidStep(f"steps must be a list (got {type(raw).__name__})")
    if len(raw) > MAX_STEPS:
        raise InvalidStep(f"too many steps: {len(raw)} is over the {MAX_STEPS} step limit")
    steps = [_validate_step(index, item) for index, item in enumerate(raw)]
    heavy = [step.name for step in steps if FILTERS[step.name].cpu_heavy]
    if len(heavy) > MAX_HEAVY_STEPS:
        raise InvalidStep(
            f"too many CPU-heavy steps: {len(heavy)} ({', '.join(heavy)}) is over the limit "
            f"of {MAX_HEAVY_STEPS}"
        )
    return steps


def _validate_step(index: int, item: Any) -> Step:
    where = f"steps[{index}]"
    if isinstance(item, Step):
        name, params = item.name, item.params
    elif isinstance(item, str):
        name, params = item, {}
    elif isinstance(item, dict):
        if "name" not in item:
            raise InvalidStep(f'{where} must have a "name"')
        name, params = item["name"], item.get("params", {})
        extra = sorted(str(key) for key in item if key not in ("name", "params"))
        if extra:
            raise InvalidStep(
                f'{where} {name}: unknown key "{extra[0]}" (parameters go in "params")'
            )
    else:
        raise InvalidStep(
            f'{where} must be a filter name or an object with "name" and "params" '
            f"(got {item!r})"
        )
    spec = FILTERS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidStep(
            f"{where}: unknown filter {name!r} (available: {', '.join(sorted(FILTERS))})"
        )
    where = f"{where} {name}"
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidStep(f'{where}: "params" must be an object (got {params!r})')
    return Step(name, _validate_params(spec, params, where))


def _validate_params(spec: FilterSpec, params: dict[str, Any], where: str) -> dict[str, Any]:
    known = {param.name: param for param in spec.params}
    for key in params:
        if key not in known:
            takes = ", ".join(known) if known else "no parameters"
            raise InvalidStep(f"{where}: unknown parameter {key!r} ({spec.name} takes {takes})")
    values = {
        name: _coerce(params[name], param, where) if name in params else param.default
        for name, param in known.items()
    }
    if spec.check is not None:
        problem = spec.check(values)
        if problem:
            raise InvalidStep(f"{where}: {problem}")
    return values


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _coerce(value: Any, param: Param, where: str) -> Any:
    """Check one value against its Param; returns it in the Param's type."""
    name = param.name
    if param.type is bool:
        if not isinstance(value, bool):
            raise InvalidStep(f"{where}: {name} must be true or false (got {value!r})")
        return value
    if param.type is str:
        if not isinstance(value, str) or (param.choices and value.lower() not in param.choices):
            options = ", ".join(param.choices or ())
            raise InvalidStep(f"{where}: {name} must be one of {options} (got {value!r})")
        return value.lower() if param.choices else value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidStep(f"{where}: {name} must be a number (got {value!r})")
    if param.type is int:
        if isinstance(value, float) and not value.is_integer():
            raise InvalidStep(f"{where}: {name} must be a whole number (got {value!r})")
        value = int(value)
    else:
        value = float(value)
    low = param.min if param.min is not None else -math.inf
    high = param.max if param.max is not None else math.inf
    if not low <= value <= high:
        raise InvalidStep(
            f"{where}: {name} must be between {_number(low)} and {_number(high)} "
            f"(got {_number(value)})"
        )
    return value


# Application -----------------------------------------------------------------------------------


def apply_steps(image: Image.Image, steps: Sequence[Step]) -> Image.Image:
    """Run the steps in order; the input is not modified. Returns RGB or RGBA.

    Steps are re-validated (cheap) so hand-built Steps get the same checks as API input.
    """
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    for index, step in enumerate(validate_steps(list(steps))):
        spec = FILTERS[step.name]
        try:
            image = _apply_one(image, spec, step.params)
        except InvalidStep as exc:  # a problem only the image can reveal (crop outside it)
            raise InvalidStep(f"steps[{index}] {step.name}: {exc}") from None
    return image


def _apply_one(image: Image.Image, spec: FilterSpec, params: dict[str, Any]) -> Image.Image:
    if spec.keeps_alpha and image.mode == "RGBA":
        alpha = image.getchannel("A")
        out = spec.apply(image.convert("RGB"), params)
        out = out if out.mode == "RGB" else out.convert("RGB")
        out.putalpha(alpha)
        return out
    out = spec.apply(image, params)
    if out.mode not in ("RGB", "RGBA"):
        out = out.convert("RGBA" if "A" in out.getbands() else "RGB")
    return out


def filter_catalogue() -> list[dict[str, Any]]:
    """The registry as JSON-ready data for the API's catalogue endpoint."""
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "cpu_heavy": spec.cpu_heavy,
            "params": [param.describe() for param in spec.params],
        }
        for spec in sorted(FILTERS.values(), key=lambda spec: spec.name)
    ]


# The filters -----------------------------------------------------------------------------------

_FACTOR = "1 leaves the image unchanged, below 1 lowers, above 1 raises"


def _enhance(enhancer: Callable[[Image.Image], Any]) -> FilterFn:
    return lambda image, p: enhancer(image).enhance(p["factor"])


def _sepia(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    k = p["intensity"]
    sepia = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))
    matrix: list[float] = []
    for row in range(3):
        matrix += [(1 - k) * (row == col) + k * sepia[row][col] for col in range(3)] + [0.0]
    return image.convert("RGB", tuple(matrix))


_FILL = {"black": (0, 0, 0, 255), "white": (255, 255, 255, 255), "transparent": (0, 0, 0, 0)}


def _rotate(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    fill = _FILL[p["fill"]]
    if p["fill"] == "transparent" and image.mode != "RGBA":
        image = image.convert("RGBA")
    if image.mode == "RGB":
        fill = fill[:3]
    # Pillow turns counter-clockwise; the parameter is clockwise like every photo editor.
    return image.rotate(
        -p["angle"], resample=Image.Resampling.BICUBIC, expand=p["expand"], fillcolor=fill
    )


def _flip(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    if p["direction"] == "horizontal":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def _check_crop(p: dict[str, Any]) -> str | None:
    if p["unit"] == "fraction":
        for name in ("left", "top", "width", "height"):
            if p[name] > 1:
                return f"{name} must be between 0 and 1 with unit fraction (got {p[name]:g})"
        if p["width"] <= 0 or p["height"] <= 0:
            return "width and height must be greater than 0"
        if p["left"] + p["width"] > 1 + 1e-9 or p["top"] + p["height"] > 1 + 1e-9:
            return "the region must lie inside the image (left + width and top + height <= 1)"
        return None
    for name in ("left", "top", "width", "height"):
        if not float(p[name]).is_integer():
            return f"{name} must be a whole number of pixels with unit px (got {p[name]:g})"
    if p["width"] < 1 or p["height"] < 1:
        return "width and height must be at least 1 pixel"
    return None


def _crop(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    """Fractions of the image (default) or pixels; a pixel region is clipped to the image."""
    width, height = image.size
    if p["unit"] == "fraction":
        left, top = round(p["left"] * width), round(p["top"] * height)
        right = max(left + 1, round((p["left"] + p["width"]) * width))
        bottom = max(top + 1, round((p["top"] + p["height"]) * height))
    else:
        left, top = int(p["left"]), int(p["top"])
        right, bottom = left + int(p["width"]), top + int(p["height"])
    box = (left, top, min(right, width), min(bottom, height))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise InvalidStep(f"the region lies outside the {width}x{height} image")
    return image.crop(box)


def _pixelate(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    """Exact block x block squares from the top-left: reduce() averages each block, then each
    average is repeated (nearest) and the overhang of the last partial blocks is cut off."""
    block = min(p["block"], max(image.size))
    small = image.reduce(block)
    grown = small.resize((small.width * block, small.height * block), Image.Resampling.NEAREST)
    return grown.crop((0, 0, image.width, image.height))


def _odd(name: str) -> CheckFn:
    """A check that parameter `name` (a window size centred on the pixel) is odd."""
    return lambda p: None if p[name] % 2 else f"{name} must be odd (got {p[name]})"


def _denoise(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    """Non-local means (OpenCV): each pixel becomes a weighted mean of pixels whose 7x7
    neighbourhoods look alike anywhere in the search window, so noise averages out while
    edges and texture, which have no look-alikes across them, stay. ~1 s for a 1024x683
    photo with the defaults on one core: the CPU-heavy filter of the set."""
    # OpenCV takes BGR: it splits lightness from colour (Lab) on that channel order.
    bgr = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
    out = cv2.fastNlMeansDenoisingColored(bgr, None, p["strength"], p["strength"], 7, p["search"])
    return Image.fromarray(cv2.cvtColor(out, cv2.COLOR_BGR2RGB), "RGB")


def _vignette(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    """Darken towards the corners: brightness * (1 - strength * r^2), r = 1 at the corners."""
    width, height = image.size
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32) ** 2
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None] ** 2
    keep = 1.0 - p["strength"] * (xs + ys) / 2.0
    mask = Image.fromarray(np.clip(keep * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return Image.composite(image, Image.new("RGB", image.size, (0, 0, 0)), mask)


def _edge_enhance(image: Image.Image, p: dict[str, Any]) -> Image.Image:
    kernel = ImageFilter.EDGE_ENHANCE_MORE if p["strength"] == "more" else ImageFilter.EDGE_ENHANCE
    return image.filter(kernel)


_RADIUS = Param("radius", float, 2.0, 0, 50, description="Gaussian radius in pixels")

for _spec in (
    FilterSpec(
        "blur",
        "Gaussian blur.",
        lambda image, p: image.filter(ImageFilter.GaussianBlur(p["radius"])),
        (_RADIUS,),
    ),
    FilterSpec(
        "sharpen",
        "Sharpen edges (0 = unchanged).",
        lambda image, p: ImageEnhance.Sharpness(image).enhance(1.0 + p["amount"]),
        (Param("amount", float, 1.0, 0, 10, description="sharpening strength"),),
    ),
    FilterSpec(
        "unsharp_mask",
        "Unsharp mask: sharpen by subtracting a blurred copy.",
        lambda image, p: image.filter(
            ImageFilter.UnsharpMask(p["radius"], p["percent"], p["threshold"])
        ),
        (
            _RADIUS,
            Param("percent", int, 150, 0, 500, description="strength in percent"),
            Param("threshold", int, 3, 0, 255, description="minimum brightness change"),
        ),
    ),
    FilterSpec(
        "brightness",
        "Change brightness.",
        _enhance(ImageEnhance.Brightness),
        (Param("factor", float, 1.2, 0, 5, description=_FACTOR),),
    ),
    FilterSpec(
        "contrast",
        "Change contrast.",
        _enhance(ImageEnhance.Contrast),
        (Param("factor", float, 1.2, 0, 5, description=_FACTOR),),
    ),
    FilterSpec(
        "saturation",
        "Change colour saturation (0 = greyscale).",
        _enhance(ImageEnhance.Color),
        (Param("factor", float, 1.3, 0, 5, description=_FACTOR),),
    ),
    FilterSpec(
        "grayscale",
        "Convert to shades of grey (kept as RGB).",
        lambda image, p: ImageOps.grayscale(image).convert("RGB"),
    ),
    FilterSpec(
        "sepia",
        "Warm brown old-photo tone.",
        _sepia,
        (Param("intensity", float, 1.0, 0, 1, description="0 = unchanged, 1 = full sepia"),),
    ),
    FilterSpec(
        "invert",
        "Photographic negative.",
        lambda image, p: ImageOps.invert(image),
    ),
    FilterSpec(
        "autocontrast",
        "Stretch the histogram to the full range.",
        lambda image, p: ImageOps.autocontrast(image, cutoff=p["cutoff"]),
        (Param("cutoff", float, 1.0, 0, 49, description="percent of darkest/lightest ignored"),),
    ),
    FilterSpec(
        "rotate",
        "Rotate clockwise by an angle in degrees.",
        _rotate,
        (
            Param("angle", float, 90.0, -360, 360, description="degrees clockwise"),
            Param("expand", bool, True, description="grow the canvas to keep the corners"),
            Param("fill", str, "black", choices=tuple(_FILL), description="uncovered area"),
        ),
        keeps_alpha=False,
    ),
    FilterSpec(
        "flip",
        "Mirror the image.",
        _flip,
        (
            Param(
                "direction",
                str,
                "horizontal",
                choices=("horizontal", "vertical"),
                description="horizontal mirrors left-right, vertical top-bottom",
            ),
        ),
        keeps_alpha=False,
    ),
    FilterSpec(
        "crop",
        "Crop to a region given as fractions of the image (unit fraction, the default: "
        "left=0.25 width=0.5 keeps the middle half) or in pixels (unit px, clipped to the "
        "image).",
        _crop,
        (
            Param("left", float, 0.0, 0, 100_000, description="left edge"),
            Param("top", float, 0.0, 0, 100_000, description="top edge"),
            Param("width", float, 1.0, 0, 100_000, description="region width"),
            Param("height", float, 1.0, 0, 100_000, description="region height"),
            Param("unit", str, "fraction", choices=("fraction", "px"), description="units"),
        ),
        keeps_alpha=False,
        check=_check_crop,
    ),
    FilterSpec(
        "median",
        "Median denoise (removes speckles; slow for large sizes).",
        lambda image, p: image.filter(ImageFilter.MedianFilter(p["size"])),
        (Param("size", int, 3, 3, 9, description="odd window size in pixels"),),
        check=_odd("size"),
        cpu_heavy=True,
    ),
    FilterSpec(
        "denoise",
        "Non-local means noise reduction: smooths sensor noise, keeps edges and texture.",
        _denoise,
        (
            Param("strength", float, 6.0, 1, 30, description="higher removes more noise"),
            Param(
                "search",
                int,
                21,
                7,
                35,
                description="odd search window in pixels (cost grows with its square)",
            ),
        ),
        check=_odd("search"),
        cpu_heavy=True,
    ),
    FilterSpec(
        "pixelate",
        "Mosaic of square blocks.",
        _pixelate,
        (Param("block", int, 8, 2, 256, description="block size in pixels"),),
        keeps_alpha=False,
    ),
    FilterSpec(
        "posterize",
        "Reduce the number of colour levels.",
        lambda image, p: ImageOps.posterize(image, p["bits"]),
        (Param("bits", int, 4, 1, 8, description="bits kept per channel"),),
    ),
    FilterSpec(
        "emboss",
        "Embossed relief effect.",
        lambda image, p: image.filter(ImageFilter.EMBOSS),
    ),
    FilterSpec(
        "edge_enhance",
        "Enhance edges.",
        _edge_enhance,
        (Param("strength", str, "normal", choices=("normal", "more"), description="how much"),),
    ),
    FilterSpec(
        "vignette",
        "Darken towards the corners.",
        _vignette,
        (Param("strength", float, 0.5, 0, 1, description="0 = none, 1 = black corners"),),
    ),
):
    register_filter(_spec)
