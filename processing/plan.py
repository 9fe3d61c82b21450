"""check_plan(): what a job's filter steps will cost, from the plan alone, before any pixel.

The API runs it at upload (a 400 naming the step) and the platform runs it again before the
filters stage; apply_steps repeats the same checks on the real image as it goes. From the
upload's displayed size it follows the image through the resize stage (fitted into the box,
never upscaled: the same arithmetic as resize) and through every step's size rule, and refuses
(InvalidStep naming the step and its position) a plan whose intermediate image would exceed
limits.max_pixels or whose estimated work would exceed limits.max_work_ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._geometry import fitted_size
from .filters import (
    FILTERS,
    check_step_size,
    check_work,
    planned_size,
    step_cost_ms,
    validate_steps,
)
from .limits import DEFAULT_LIMITS, Limits
from .resize import DEFAULT_BOX

# A plan with a step estimated at this many milliseconds or more runs in a child process that
# can be killed (processing.isolation); below it every step is short enough that checking for
# a cancel or the deadline between steps stops the work soon enough, and the child's
# round trip (measured in docs/processing-contract.md) would cost more than it saves.
ISOLATE_FROM_MS = 250.0


@dataclass(frozen=True)
class Plan:
    """sizes[0] is the filters stage's input; sizes[i + 1] is the image after step i."""

    sizes: tuple[tuple[int, int], ...]
    step_ms: tuple[float, ...]  # estimated CPU milliseconds of each step

    @property
    def work_ms(self) -> float:
        return sum(self.step_ms)

    @property
    def isolate(self) -> bool:
        """True when a step is heavy enough to run where it can be killed."""
        return any(ms >= ISOLATE_FROM_MS for ms in self.step_ms)


def check_plan(
    width: int,
    height: int,
    steps: Any,
    limits: Limits = DEFAULT_LIMITS,
    *,
    box: tuple[int, int] = DEFAULT_BOX,
) -> Plan:
    """The plan of `steps` for an upload of width x height (its displayed size, as probe()
    reports it); InvalidStep if a step would exceed the limits.

    `steps` may be raw (validated first: a list, or its JSON text) or validated Steps. `box`
    is the resize stage's box (fitted_size, the arithmetic resize_bytes uses).
    """
    return plan_steps(fitted_size((width, height), box), steps, limits)


def plan_steps(size: tuple[int, int], steps: Any, limits: Limits = DEFAULT_LIMITS) -> Plan:
    """The plan of `steps` on an image of exactly `size` (no resize first)."""
    validated = validate_steps(steps)
    sizes = [size]
    costs: list[float] = []
    work_ms = 0.0
    for index, step in enumerate(validated):
        spec = FILTERS[step.name]
        where = f"steps[{index}] {step.name}"
        after = planned_size(spec, sizes[-1], step.params, where)
        check_step_size(after, limits, where)
        cost = step_cost_ms(spec, step.params, sizes[-1], after)
        work_ms += cost
        check_work(work_ms, limits, where)
        sizes.append(after)
        costs.append(cost)
    return Plan(sizes=tuple(sizes), step_ms=tuple(costs))
