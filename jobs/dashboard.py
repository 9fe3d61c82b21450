"""What the dashboard shows, read from the database and the broker (reads only).

Each function answers from a bounded window (the last hour, the last day, the last minutes)
with a fixed number of queries, so a refresh costs the same on 100 jobs or 100,000.
"""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone

from jobs import queue_stats, stages
from jobs.downloads import signed_url
from jobs.models import Job, StageRun

#: Most durations read per stage for the percentiles (the newest): bounds a refresh's cost.
DURATION_SAMPLE = 5000
FAILURE_SAMPLE = 2000


def jobs_by_status() -> dict[str, int]:
    counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in Job.Status.values}


def throughput(minutes: int = 60, now: datetime | None = None) -> dict[str, list[int]]:
    """Jobs finished per minute over the last ``minutes``, by outcome, oldest minute first.

    ``t`` holds each minute's start as Unix seconds (what uPlot's x axis takes).
    """
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    rows = (
        Job.objects.filter(finished_at__gte=start, status__in=[
            Job.Status.COMPLETED, Job.Status.FAILED])
        .annotate(minute=TruncMinute("finished_at")).order_by()
        .values_list("minute", "status").annotate(n=Count("id"))
    )
    counts = {(minute, status): n for minute, status, n in rows}
    series: dict[str, list[int]] = {"t": [], "completed": [], "failed": []}
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        series["t"].append(int(minute.timestamp()))
        for status in ("completed", "failed"):
            series[status].append(counts.get((minute, status), 0))
    return series


@dataclass(frozen=True)
class StageSpeed:
    stage: str
    count: int
    p50_ms: float | None
    p95_ms: float | None


def stage_percentiles(window: timedelta = timedelta(hours=1)) -> list[StageSpeed]:
    """p50/p95 of the attempts that did the work (done, not reused) in the window."""
    since = timezone.now() - window
    speeds = []
    for stage in stages.STAGES:
        durations = list(
            StageRun.objects.filter(stage=stage.name, status=StageRun.Status.DONE,
                                    reused_from_run__isnull=True, finished_at__gte=since)
            .order_by("-finished_at").values_list("duration_ms", flat=True)[:DURATION_SAMPLE]
        )
        durations = [d for d in durations if d is not None]
        speeds.append(StageSpeed(stage.name, len(durations), *_p50_p95(durations)))
    return speeds


def _p50_p95(values: list[int]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), float(values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94]


def failures(window: timedelta = timedelta(hours=24)) -> list[dict[str, Any]]:
    """Failed jobs of the window by stage and reason (the error's first line), most first."""
    since = timezone.now() - window
    counts: Counter[tuple[str, str]] = Counter()
    for stage, error in (Job.objects.filter(status=Job.Status.FAILED, finished_at__gte=since)
                         .order_by("-finished_at").values_list("stage", "error")[:FAILURE_SAMPLE]):
        reason = (error.splitlines() or [""])[0][:120]
        counts[(stage, reason)] += 1
    return [{"stage": stage, "reason": reason, "count": n}
            for (stage, reason), n in counts.most_common(10)]


def latest_jobs(count: int = 12) -> list[dict[str, Any]]:
    jobs = Job.objects.order_by("-created_at")[:count]
    return [{
        "job": job,
        "thumbnail": signed_url(job, "result") or signed_url(job, "original"),
        "labels": (job.detections or {}).get("labels", [])[:4],
    } for job in jobs]


def recent_workers(window: timedelta = timedelta(minutes=5)) -> list[dict[str, Any]]:
    """Workers with attempts started in the window: what they ran, how many, when last."""
    since = timezone.now() - window
    rows = (StageRun.objects.filter(started_at__gte=since).exclude(worker="").order_by()
            .values("worker", "stage")
            .annotate(n=Count("id"), last=Max("started_at"),
                      running=Count("id", filter=Q(status=StageRun.Status.RUNNING))))
    workers: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"stages": {}, "attempts": 0, "running": 0, "last": None})
    for row in rows:
        entry = workers[row["worker"]]
        entry["stages"][row["stage"]] = row["n"]
        entry["attempts"] += row["n"]
        entry["running"] += row["running"]
        entry["last"] = max(filter(None, [entry["last"], row["last"]]))
    return sorted(
        ({"worker": name, **entry} for name, entry in workers.items()),
        key=lambda w: w["last"], reverse=True,
    )


def queues() -> dict[str, Any]:
    try:
        return {"depths": queue_stats.queue_depths(), "error": "",
                "embedded": queue_stats.is_embedded()}
    except queue_stats.BrokerUnavailable as error:
        return {"depths": [], "error": str(error), "embedded": False}


def charts() -> dict[str, Any]:
    """The charts' data, as JSON for the page's script."""
    return {
        "throughput": throughput(),
        "stages": [speed.__dict__ for speed in stage_percentiles()],
        "generated_at": timezone.now().isoformat(),
    }
