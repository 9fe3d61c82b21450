"""Job and StageRun: what was asked, where it is, and every stage attempt (the timeline)."""

import uuid

from django.conf import settings
from django.db import models

from jobs.stages import stage_plan


class IllegalTransition(Exception):
    """A state change the job's state machine refuses (e.g. cancelling a completed job)."""


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    # Legal moves; services.py is the only caller of Job.move_to().
    TRANSITIONS: dict[str, set[str]] = {
        Status.QUEUED: {Status.PROCESSING, Status.FAILED, Status.CANCELLED},
        Status.PROCESSING: {Status.QUEUED, Status.COMPLETED, Status.FAILED, Status.CANCELLED},
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

    result_key = models.CharField(max_length=300, blank=True)
    result_width = models.PositiveIntegerField(null=True, blank=True)
    result_height = models.PositiveIntegerField(null=True, blank=True)
    detections = models.JSONField(null=True, blank=True)

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
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def plan(self) -> list[str]:
        return stage_plan(self.steps)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.created_at).total_seconds()
        return None

    def move_to(self, status: str) -> None:
        """Change status in memory, refusing moves the state machine does not allow."""
        if status not in self.TRANSITIONS[self.status]:
            raise IllegalTransition(f"a {self.status} job cannot become {status}")
        self.status = status


class StageRun(models.Model):
    """One attempt at one stage of one job: the job's timeline."""

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="stage_runs")
    run = models.PositiveIntegerField(default=1)
    stage = models.CharField(max_length=16)
    attempt = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    output_key = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "run", "stage", "attempt"], name="one_row_per_attempt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage}#{self.attempt} {self.status}"


from jobs.webhook_models import WebhookSecret  # noqa: E402,F401
