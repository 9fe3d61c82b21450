"""Job and StageRun: what was asked, where it is, and every stage attempt (the timeline)."""

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs import stages


class IllegalTransition(Exception):
    """A state change the job's state machine refuses (e.g. cancelling a completed job)."""


class ReprocessRefused(ValueError):
    """Reprocessing cannot start where it was asked to."""


class StageNotInPlan(ReprocessRefused):
    """Reprocessing was asked to start from a stage this job does not run."""


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    # Every legal move, and the only place that says so: the lifecycle methods below refuse
    # anything else. An active job is never requeued (cancel it first); a finished one only is.
    TRANSITIONS: dict[str, set[str]] = {
        Status.QUEUED: {Status.PROCESSING, Status.FAILED, Status.CANCELLED},
        Status.PROCESSING: {Status.COMPLETED, Status.FAILED, Status.CANCELLED},
        Status.COMPLETED: {Status.QUEUED},
        Status.FAILED: {Status.QUEUED},
        Status.CANCELLED: {Status.QUEUED},
    }
    ACTIVE = (Status.QUEUED, Status.PROCESSING)
    ANNOUNCED = (Status.COMPLETED, Status.FAILED)  # the states job_finished/job_failed report

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="photo_jobs",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=16, blank=True, help_text="Current (or failing) stage.")
    steps = models.JSONField(default=list, blank=True, help_text="Requested filter steps.")
    output_format = models.CharField(max_length=8, default="JPEG")
    webhook_url = models.URLField(blank=True, max_length=500)

    original_key = models.CharField(max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    original_format = models.CharField(max_length=8)
    original_width = models.PositiveIntegerField()
    original_height = models.PositiveIntegerField()
    original_bytes = models.PositiveBigIntegerField()
    # Dedupe (jobs/dedupe.py): the same bytes with the same options reuse a finished result.
    original_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    reused_from = models.UUIDField(
        null=True, blank=True, help_text="The completed job whose result this job copied."
    )

    result_key = models.CharField(max_length=300, blank=True)
    result_width = models.PositiveIntegerField(null=True, blank=True)
    result_height = models.PositiveIntegerField(null=True, blank=True)
    detections = models.JSONField(null=True, blank=True)
    # Facts of the detections in columns of their own, so the job list filters on them with
    # an index (jobs/facts.py; written by the detect stage).
    labels = models.JSONField(default=list, blank=True)
    face_count = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    dominant_color = models.CharField(max_length=8, blank=True, db_index=True)
    orientation = models.CharField(max_length=9, blank=True, db_index=True)
    is_document = models.BooleanField(null=True, blank=True, db_index=True)
    phash = models.BigIntegerField(
        null=True, blank=True, db_index=True, help_text="64-bit perceptual hash, signed."
    )

    error = models.TextField(blank=True)
    run = models.PositiveIntegerField(
        default=1, help_text="Processing run; reprocessing starts a new one."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Stage attempts, all stages.")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the completion event reached RabbitMQ."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            # A user's own list, newest first: the list every client asks for.
            models.Index(fields=["owner", "-created_at"], name="jobs_owner_created"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def plan(self) -> list[str]:
        return stages.stage_plan(self.steps)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration_seconds(self) -> float | None:
        """The current run's, from its first attempt to its end (a reprocessed job's earlier
        runs and its time waiting in the queue are not counted)."""
        if self.finished_at and self.started_at:
            return max(0.0, (self.finished_at - self.started_at).total_seconds())
        return None

    # --- lifecycle: services.py calls these inside its transactions and saves the row -------

    def start(self) -> None:
        """The first attempt of the run begins: queued -> processing."""
        self._move_to(self.Status.PROCESSING)
        self.started_at = timezone.now()

    def advance(self, stage: str) -> None:
        """A stage finished and ``stage`` is next; the job stays processing."""
        if self.status != self.Status.PROCESSING or stage not in self.plan:
            raise IllegalTransition(f"a {self.status} job cannot move on to {stage}")
        self.stage = stage

    def record(self, stage: str, fields: dict[str, object]) -> None:
        """Store what a finished stage produced, refusing fields it does not declare."""
        undeclared = set(fields) - set(stages.get(stage).writes)
        if undeclared:
            raise ValueError(f"stage {stage} may not write {', '.join(sorted(undeclared))}")
        for name, value in fields.items():
            setattr(self, name, value)

    def complete(self) -> None:
        self._move_to(self.Status.COMPLETED)
        self.error = ""
        self.finished_at = timezone.now()

    def fail(self, stage: str, reason: str) -> None:
        self._move_to(self.Status.FAILED)
        self.stage = stage
        self.error = reason[:2000]
        self.finished_at = timezone.now()

    def cancel(self) -> None:
        self._move_to(self.Status.CANCELLED)
        self.finished_at = timezone.now()

    def requeue(self, stage: str) -> None:
        """Start a new run at ``stage``: results of the stages that run again are forgotten
        (stale until they do), the run's times and error are cleared."""
        if stage not in self.plan:
            raise StageNotInPlan(
                f"{stage!r} is not one of this job's stages: {', '.join(self.plan)}"
            )
        if self.is_active:
            raise IllegalTransition(f"a {self.status} job is still running; cancel it first")
        self._move_to(self.Status.QUEUED)
        for rerun in stages.stages_from(self.plan, stage):
            for name in rerun.writes:
                setattr(self, name, self._meta.get_field(name).get_default())
        self.stage = stage
        self.run += 1
        self.error = ""
        self.started_at = self.finished_at = self.notified_at = None

    def _move_to(self, status: str) -> None:
        if status not in self.TRANSITIONS[self.status]:
            raise IllegalTransition(f"a {self.status} job cannot become {status}")
        self.status = status


class StageRun(models.Model):
    """One attempt at one stage of one job: the job's timeline."""

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"  # still running when its job was cancelled

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="stage_runs")
    run = models.PositiveIntegerField(default=1)
    stage = models.CharField(max_length=16)
    attempt = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    output_key = models.CharField(max_length=300, blank=True)
    reused_from_run = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Not run again: its output was reused from this earlier run.",
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "run", "stage", "attempt"], name="one_row_per_attempt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage}#{self.attempt} {self.status}"

    def close(self, status: str, *, output_key: str = "", error: str = "") -> None:
        """End a RUNNING attempt as done or failed, stamping its duration, and save it."""
        self.status = status
        self.finished_at = timezone.now()
        self.duration_ms = _elapsed_ms(self.started_at, self.finished_at)
        self.output_key = output_key
        self.error = error[:2000]
        self.save()


def _elapsed_ms(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))

from jobs.extras_models import Batch, BatchItem, IdempotencyKey, Preset  # noqa: E402,F401
from jobs.webhook_models import WebhookDelivery, WebhookSecret  # noqa: E402,F401
