"""A job's timeline read one way for the API and the admin: attempts grouped by run, the
current run first, and attempts counted per stage."""

from collections import Counter
from dataclasses import dataclass

from jobs.models import Job, StageRun


@dataclass(frozen=True)
class RunTimeline:
    run: int
    current: bool
    attempts: list[StageRun]


def job_runs(job: Job, *, every_run: bool = True) -> list[RunTimeline]:
    """The job's runs, newest first, each with its attempts in the order they started.

    Reads ``job.stage_runs.all()``, so a prefetch_related("stage_runs") serves it.
    """
    by_run: dict[int, list[StageRun]] = {}
    for attempt in sorted(job.stage_runs.all(), key=lambda a: (a.started_at, a.pk)):
        if every_run or attempt.run == job.run:
            by_run.setdefault(attempt.run, []).append(attempt)
    if job.run not in by_run:
        by_run[job.run] = []  # queued and not started: an empty current run
    return [RunTimeline(run, run == job.run, by_run[run]) for run in sorted(by_run, reverse=True)]


def attempts_per_stage(job: Job) -> dict[str, int]:
    """Attempts made at each stage in the current run, in plan order (a stage reused from an
    earlier run made none; one not reached yet is absent)."""
    made = Counter(
        attempt.stage for attempt in job.stage_runs.all()
        if attempt.run == job.run and attempt.reused_from_run is None
    )
    return {stage: made[stage] for stage in job.plan if made[stage]}
