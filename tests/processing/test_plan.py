"""check_plan: every intermediate size and the work of a job's steps, from the plan alone; the
registry's size rules that make it possible, and apply_steps' own checks as it runs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from processing import check_plan
from processing.errors import InvalidStep
from processing.filters import (
    FILTERS,
    FilterSpec,
    Param,
    Step,
    apply_steps,
    flat_cost,
    register_filter,
    same_size,
    validate_steps,
)
from processing.limits import Limits
from processing.plan import ISOLATE_FROM_MS

ROTATE_45 = {"name": "rotate", "params": {"angle": 45}}


def test_the_plan_starts_from_the_resized_size_and_never_upscales() -> None:
    assert check_plan(4000, 3000, []).sizes == ((1024, 768),)
    assert check_plan(3840, 2160, []).sizes == ((1024, 576),)
    assert check_plan(300, 200, []).sizes == ((300, 200),)
    assert check_plan(4000, 3000, [], box=(512, 512)).sizes == ((512, 384),)


def test_the_plan_follows_every_step_that_changes_the_size() -> None:
    plan = check_plan(
        4000,
        3000,
        [
            {"name": "rotate", "params": {"angle": 90}},
            {"name": "crop", "params": {"left": 0.25, "width": 0.5}},
            "blur",
            {"name": "crop", "params": {"left": 10, "top": 20, "width": 5000, "height": 100,
                                        "unit": "px"}},
        ],
    )
    assert plan.sizes == ((1024, 768), (768, 1024), (384, 1024), (384, 1024), (374, 100))
    assert len(plan.step_ms) == 4 and plan.work_ms == sum(plan.step_ms)


def test_seven_45_degree_turns_of_a_4k_photo_are_refused_at_the_step_that_overflows() -> None:
    # The attack: an 82 MP intermediate, refused only at the next stage before.
    with pytest.raises(InvalidStep) as refused:
        check_plan(3840, 2160, [ROTATE_45] * 7)
    assert str(refused.value) == (
        "steps[6] rotate: would make a 9072x9072 image, over the 50 MP limit"
    )


def test_heavy_steps_on_enlarged_canvases_are_refused_by_the_work_budget() -> None:
    # The other attack: 5 turns then 3 denoise ran 159 s past a 120 s limit.
    steps = [ROTATE_45] * 5 + ["denoise"] * 3
    with pytest.raises(InvalidStep) as refused:
        check_plan(3840, 2160, steps)
    message = str(refused.value)
    assert message.startswith("steps[5] denoise: the steps up to this one would take about ")
    assert message.endswith(" of CPU, over the 20 s budget")


def test_a_reasonable_heavy_plan_fits_the_default_budget() -> None:
    heaviest = {"name": "denoise", "params": {"search": 35}}
    plan = check_plan(4000, 4000, [heaviest] * 3)
    assert 5_000 < plan.work_ms < Limits().max_work_ms
    assert plan.isolate


def test_limits_are_the_callers() -> None:
    with pytest.raises(InvalidStep, match=r"^steps\[0\] rotate: would make a 1450x1450 image, "
                                          r"over the 2 MP limit$"):
        check_plan(1024, 1024, [ROTATE_45], Limits(max_pixels=2_000_000))
    with pytest.raises(InvalidStep, match=r"^steps\[1\] blur: .* over the 0\.1 s budget$"):
        check_plan(1024, 1024, ["grayscale", "blur"], Limits(max_work_ms=50))


def test_a_crop_outside_the_image_is_refused_from_the_plan() -> None:
    crop = {"name": "crop", "params": {"left": 2000, "width": 10, "unit": "px"}}
    with pytest.raises(InvalidStep) as refused:
        check_plan(4000, 3000, ["grayscale", crop])
    assert str(refused.value) == "steps[1] crop: the region lies outside the 1024x768 image"


def test_cheap_plans_run_in_process_heavy_ones_isolated() -> None:
    cheap = check_plan(4000, 3000, ["grayscale", "brightness", "blur", ROTATE_45])
    assert max(cheap.step_ms) < ISOLATE_FROM_MS and not cheap.isolate
    assert check_plan(4000, 3000, ["denoise"]).isolate
    assert check_plan(4000, 3000, [{"name": "median", "params": {"size": 9}}]).isolate


def test_bad_steps_are_refused_as_by_validate_steps() -> None:
    with pytest.raises(InvalidStep, match="unknown filter 'nope'"):
        check_plan(100, 100, ["nope"])
    assert check_plan(100, 100, '["grayscale"]').sizes == ((100, 100), (100, 100))


# Size rules agree with what the filters do ------------------------------------------------


@pytest.mark.parametrize("size", [(101, 67), (64, 64), (37, 23), (1, 5), (3, 1)])
def test_the_rotate_rule_gives_pillows_sizes(size: tuple[int, int]) -> None:
    image = Image.new("RGB", size)
    spec = FILTERS["rotate"]
    angles = [a / 4 for a in range(-1440, 1441, 23)] + [0, 90, -90, 180, 270, 360, 0.001, 44.999]
    for angle, expand in itertools.product(angles, (True, False)):
        params = validate_steps([{"name": "rotate", "params": {"angle": angle,
                                                               "expand": expand}}])[0].params
        assert spec.size(size, params) == spec.apply(image, params).size, (angle, expand)


@pytest.mark.parametrize(
    "params",
    [
        {"left": 0.25, "width": 0.5},
        {"left": 0.99, "top": 0.98, "width": 0.01, "height": 0.02},
        {"left": 3, "top": 4, "width": 500, "height": 2, "unit": "px"},
        {"left": 0, "top": 0, "width": 1, "height": 1, "unit": "px"},
    ],
)
def test_the_crop_rule_gives_the_crops_size(params: dict[str, Any]) -> None:
    image = Image.new("RGB", (101, 67))
    step = validate_steps([{"name": "crop", "params": params}])[0]
    assert FILTERS["crop"].size(image.size, step.params) == apply_steps(image, [step]).size


# The registry requires the rules -----------------------------------------------------------


@pytest.fixture
def scratch_filters() -> Iterator[None]:
    before = dict(FILTERS)
    yield
    FILTERS.clear()
    FILTERS.update(before)


def _halve(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)))


def test_a_filter_cannot_be_declared_without_a_size_rule_and_a_cost() -> None:
    with pytest.raises(TypeError, match="size"):
        FilterSpec("halve", "Halve.", _halve, cost=flat_cost(5))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="cost"):
        FilterSpec("halve", "Halve.", _halve, size=same_size)  # type: ignore[call-arg]


def test_a_size_changing_filter_that_claims_to_keep_the_size_is_refused(
    scratch_filters: None,
) -> None:
    with pytest.raises(ValueError, match=r"^filter halve: its size rule gives 37x23 for a "
                                         r"37x23 image, the filter makes 18x11$"):
        register_filter(FilterSpec("halve", "Halve.", _halve, size=same_size,
                                   cost=flat_cost(5)))
    assert "halve" not in FILTERS

    def halved(size: tuple[int, int], params: dict[str, Any]) -> tuple[int, int]:
        return max(1, size[0] // 2), max(1, size[1] // 2)

    register_filter(FilterSpec("halve", "Halve.", _halve, size=halved, cost=flat_cost(5)))
    assert check_plan(1000, 800, ["halve", "halve"]).sizes[-1] == (250, 200)


def test_a_wrong_rule_the_defaults_do_not_show_is_caught_when_the_step_runs(
    scratch_filters: None,
) -> None:
    def grow(image: Image.Image, params: dict[str, Any]) -> Image.Image:
        return image.resize((image.width + params["by"], image.height)) if params["by"] else image

    register_filter(
        FilterSpec("grow", "Grow.", grow, (Param("by", int, 0, 0, 10),), size=same_size,
                   cost=flat_cost(5))
    )
    with pytest.raises(RuntimeError, match=r"^steps\[0\] grow: made 47x23 where its size rule "
                                           r"said 37x23"):
        apply_steps(Image.new("RGB", (37, 23)), validate_steps([{"name": "grow",
                                                                 "params": {"by": 10}}]))


def test_apply_steps_checks_each_step_before_it_runs() -> None:
    seen: list[int] = []
    with pytest.raises(InvalidStep, match=r"^steps\[2\] rotate: would make a"):
        apply_steps(
            Image.new("RGB", (1000, 1000)),
            [Step("grayscale"), Step("invert"), *validate_steps([ROTATE_45])],
            limits=Limits(max_pixels=1_500_000),
            before_step=lambda index, step: seen.append(index),
        )
    assert seen == [0, 1], "the refused step never started"
    with pytest.raises(InvalidStep, match=r"^steps\[0\] denoise: .* over the 0\.5 s budget$"):
        apply_steps(Image.new("RGB", (1000, 1000)), validate_steps(["denoise"]),
                    limits=Limits(max_work_ms=500))
