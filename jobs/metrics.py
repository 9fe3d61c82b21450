"""Prometheus metrics of the jobs: events counted where they happen, state read at scrape time.

Events (counters, a histogram) are counted in the process where they happen: uploads in the
API, stage attempts and completions in the workers (or the embedded server's threads). Worker
processes write them to PROMETHEUS_MULTIPROC_DIR and Dramatiq's Prometheus middleware serves
them on its own port (docs/OPERATIONS.md, "Metrics"). State that lives in the database or the
broker (jobs per status, queue depths) is read when /metrics is scraped, by JobStateCollector,
so it is one truth whichever process serves it.

Receivers here only observe (they never drive processing, which is why a post_save receiver
is acceptable): they are connected in JobsConfig.ready().
"""

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from django.db.models.signals import post_save
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs import dashboard, queue_stats
from jobs.models import Job, StageRun
from jobs.signals import job_failed, job_finished

logger = logging.getLogger(__name__)

JOBS_CREATED = Counter("photopipe_jobs_created", "Jobs accepted (uploads).")
JOBS_FINISHED = Counter(
    "photopipe_jobs_finished", "Jobs that reached a final state.", ["status"]
)
STAGE_DURATION = Histogram(
    "photopipe_stage_duration_seconds", "Time of one stage attempt, by stage and outcome.",
    ["stage", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
STAGE_FAILURES = Counter(
    "photopipe_stage_failures", "Stage attempts that failed (retried or not).", ["stage"]
)
STAGE_RETRIES = Counter(
    "photopipe_stage_retries", "Stage attempts after the first (a retry or redelivery).",
    ["stage"],
)


def _job_saved(sender: type[Job], instance: Job, created: bool, **_: Any) -> None:
    if created:
        JOBS_CREATED.inc()
    elif instance.status == Job.Status.CANCELLED:
        JOBS_FINISHED.labels("cancelled").inc()


def _job_ended(sender: type[Job], job: Job, **_: Any) -> None:
    JOBS_FINISHED.labels(job.status).inc()


def _attempt_saved(sender: type[StageRun], instance: StageRun, created: bool, **_: Any) -> None:
    if created:
        if instance.attempt > 1:
            STAGE_RETRIES.labels(instance.stage).inc()
        return
    if instance.status == StageRun.Status.RUNNING or instance.duration_ms is None:
        return
    STAGE_DURATION.labels(instance.stage, instance.status).observe(instance.duration_ms / 1000)
    if instance.status == StageRun.Status.FAILED:
        STAGE_FAILURES.labels(instance.stage).inc()


class JobStateCollector(Collector):
    """Jobs per status and queue depths, read at scrape time."""

    def describe(self) -> list[GaugeMetricFamily]:
        # Without this, registering would call collect(): database queries at start-up.
        return [GaugeMetricFamily(name, "") for name in (
            "photopipe_jobs", "photopipe_queue_messages", "photopipe_broker_up")]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("photopipe_jobs", "Jobs by current status.", labels=["status"])
        try:
            for status, count in dashboard.jobs_by_status().items():
                jobs.add_metric([status], count)
        except Exception:  # a scrape must answer even when the database does not
            logger.exception("metrics: could not count jobs")
        yield jobs
        depth = GaugeMetricFamily(
            "photopipe_queue_messages",
            "Messages in each queue: ready, delayed (retry backoff), dead (dead-lettered).",
            labels=["queue", "kind"],
        )
        up = GaugeMetricFamily("photopipe_broker_up", "1 if the queue depths could be read.")
        try:
            for queue in queue_stats.queue_depths():
                for kind in ("ready", "delayed", "dead"):
                    value = getattr(queue, kind)
                    if value is not None:
                        depth.add_metric([queue.name, kind], value)
            up.add_metric([], 1)
        except queue_stats.BrokerUnavailable:
            up.add_metric([], 0)
        yield depth
        yield up


_collector = JobStateCollector()


def connect() -> None:
    post_save.connect(_job_saved, sender=Job, dispatch_uid="photopipe-metrics-job")
    post_save.connect(_attempt_saved, sender=StageRun, dispatch_uid="photopipe-metrics-attempt")
    job_finished.connect(_job_ended, sender=Job, dispatch_uid="photopipe-metrics-finished")
    job_failed.connect(_job_ended, sender=Job, dispatch_uid="photopipe-metrics-failed")


def state_collector() -> JobStateCollector:
    return _collector


def register_state_collector() -> None:
    """Into the default registry (once): what /metrics serves in a single process."""
    with contextlib.suppress(ValueError):  # already registered (the autoreloader)
        REGISTRY.register(_collector)
