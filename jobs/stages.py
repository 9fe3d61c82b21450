"""The stage registry: every pipeline stage is declared here, once.

A stage is a name (also its Dramatiq actor and queue), the image it reads, its work function
(jobs/stage_work.py), the job fields it writes when it finishes, when a job runs it and its
time limit. Everything else reads this table: the actors (one per stage, jobs/actors.py), the
services (a job's plan, what a finished stage records, what reprocessing forgets), the runner
(which input to read), the admin and API (stage choices), the system checks and the docs.

Adding a stage: write ``work(job, source, control) -> StageOutput`` in stage_work.py and add one
``Stage(...)`` below, in plan order (docs/ARCHITECTURE.md has a worked example).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from jobs import facts, stage_work
from jobs.stage_work import StageOutput, WorkControl

#: Input rules: read the uploaded original, or the output of the stage before in the plan.
ORIGINAL = "original"
PREVIOUS = "previous"


def _always(steps: Sequence[Any]) -> bool:
    return True


@dataclass(frozen=True)
class Stage:
    name: str
    work: Callable[[Any, bytes, WorkControl], StageOutput]
    #: ORIGINAL, PREVIOUS or the name of an earlier stage whose output this stage reads.
    reads: str = PREVIOUS
    #: Job fields set from StageOutput.job_fields when the stage finishes; reprocessing from
    #: this stage (or earlier) resets them to their defaults until it runs again.
    writes: tuple[str, ...] = ()
    #: Whether a job with these filter steps runs the stage.
    runs_if: Callable[[Sequence[Any]], bool] = _always
    #: None: settings.PHOTOPIPE["STAGE_TIME_LIMIT_MS"].
    time_limit_ms: int | None = None
    summary: str = ""

    @property
    def queue(self) -> str:
        return self.name

    def time_limit(self) -> int:
        return self.time_limit_ms or settings.PHOTOPIPE["STAGE_TIME_LIMIT_MS"]


STAGES: tuple[Stage, ...] = (
    Stage(
        "resize", stage_work.resize, reads=ORIGINAL,
        summary="decode the original, apply its EXIF orientation, fit it into 1024x1024",
    ),
    Stage(
        "filters", stage_work.apply_filters, runs_if=bool,
        summary="the filter steps the job asked for (only when it asked for some)",
    ),
    Stage(
        "watermark", stage_work.watermark,
        writes=("result_key", "result_width", "result_height"),
        summary="stamp the watermark and encode the result in the requested format",
    ),
    Stage(
        "detect", stage_work.detect, reads="resize",
        writes=("detections", *facts.FACT_FIELDS),
        # Detection looks at the photo as resized, never the filtered or watermarked one.
        summary="faces, people, labels, colours and orientation, on the resized image",
    ),
)

BY_NAME: dict[str, Stage] = {stage.name: stage for stage in STAGES}
ALL_STAGES: tuple[str, ...] = tuple(BY_NAME)


def get(name: str) -> Stage:
    return BY_NAME[name]


def stage_plan(steps: Sequence[Any]) -> list[str]:
    """The stages a job with these filter steps runs, in order."""
    return [stage.name for stage in STAGES if stage.runs_if(steps)]


def next_stage(plan: Sequence[str], stage: str) -> str | None:
    index = plan.index(stage)
    return plan[index + 1] if index + 1 < len(plan) else None


def input_stage(plan: Sequence[str], stage: str) -> str | None:
    """The stage whose output ``stage`` reads in this plan (None: the original upload)."""
    reads = get(stage).reads
    if reads == ORIGINAL:
        return None
    if reads == PREVIOUS:
        index = plan.index(stage)
        return plan[index - 1] if index else None
    return reads


def stages_from(plan: Sequence[str], stage: str) -> list[Stage]:
    """The stages that run again when a job restarts at ``stage``."""
    return [get(name) for name in plan[plan.index(stage):]]
