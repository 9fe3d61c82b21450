"""Rows of the API's extras (issue 9): idempotency keys of uploads, and named presets."""

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

import processing
from jobs.limits import upload_limits
from processing.resize import DEFAULT_BOX


class IdempotencyKey(models.Model):
    """One upload answered under an ``Idempotency-Key``: what was asked (a fingerprint) and
    what was answered, so a retry with the same key gets the same answer and creates nothing.

    The unique (owner, key) pair is what stops two concurrent duplicates: the second insert
    waits for the first transaction and then fails, and replays the answer it committed.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the request's fields.")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        app_label = "jobs"
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="one_idempotency_key_per_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.owner_id})"


class Preset(models.Model):
    """Named filter steps with an output format, picked on upload with ``preset=NAME``.

    A job copies the steps when it is created: changing a preset later changes no job.
    """

    name = models.SlugField(max_length=50, unique=True)
    description = models.CharField(max_length=200, blank=True)
    steps = models.JSONField(
        default=list, blank=True,
        help_text='Filter steps as the API takes them: ["grayscale", {"name": "blur", '
        '"params": {"radius": 2}}]. See /api/v1/steps/.',
    )
    output_format = models.CharField(max_length=8, default="JPEG")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "jobs"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        try:
            validated = processing.validate_steps(self.steps)
            # The filter stage never sees more than the resize box: a plan within the work
            # budget there is within it for every upload.
            processing.check_plan(*DEFAULT_BOX, validated, upload_limits())
            self.steps = [step.to_dict() for step in validated]
        except processing.InvalidStep as error:
            errors["steps"] = str(error)
        try:
            self.output_format = processing.normalise_format(self.output_format)
        except ValueError as error:
            errors["output_format"] = str(error)
        if errors:
            raise ValidationError(errors)

    def step_list(self) -> list[processing.Step]:
        return processing.validate_steps(self.steps)


class Batch(models.Model):
    """Many uploads sent at once: each file its own job (or its own upload error).

    ``finished_at`` is set once, under the row lock, by the first check that finds no job of
    the batch still active: that check alone sends the batch's event and webhook.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="photo_batches",
    )
    webhook_url = models.URLField(blank=True, max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "jobs"
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"batch {self.id}"


class BatchItem(models.Model):
    """One file of a batch: the job it became, or why it was refused."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    filename = models.CharField(max_length=255, blank=True)
    # A deleted job leaves its item (job null): the batch still counts the file.
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="batch_item"
    )
    error = models.JSONField(null=True, blank=True, help_text="detail, code, status")

    class Meta:
        app_label = "jobs"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="one_item_per_position"),
        ]
