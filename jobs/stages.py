"""The stage plan of a job: which stages run, in which order. No Django here."""

from collections.abc import Sequence

RESIZE = "resize"
FILTERS = "filters"
WATERMARK = "watermark"
DETECT = "detect"

ALL_STAGES = (RESIZE, FILTERS, WATERMARK, DETECT)


def stage_plan(steps: Sequence[object]) -> list[str]:
    """Stages a job runs: the filters stage only when the job asked for steps."""
    return [RESIZE, *([FILTERS] if steps else []), WATERMARK, DETECT]


def next_stage(plan: Sequence[str], stage: str) -> str | None:
    index = plan.index(stage)
    return plan[index + 1] if index + 1 < len(plan) else None


def input_stage(plan: Sequence[str], stage: str) -> str | None:
    """The stage whose output this stage reads (None: the original upload).

    Detection looks at the resized image, never the filtered or watermarked one.
    """
    if stage == RESIZE:
        return None
    if stage == DETECT:
        return RESIZE
    return plan[plan.index(stage) - 1]
