"""Each user's webhook signing secret (Standard Webhooks: ``whsec_`` + base64 of random bytes)."""

import base64
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


class WebhookSecret(models.Model):
    """The key a user's webhooks are signed with: made the first time it is needed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_secret"
    )
    secret = models.CharField(max_length=128, default=new_secret)
    created_at = models.DateTimeField(default=timezone.now, help_text="Made or last rotated.")

    class Meta:
        app_label = "jobs"

    def __str__(self) -> str:
        return f"webhook secret of {self.user}"

    @classmethod
    def for_user(cls, user: Any) -> "WebhookSecret":
        # get_or_create copes with two first requests at once (the unique user wins once).
        return cls.objects.get_or_create(user=user)[0]

    @classmethod
    def for_job(cls, job_id: str) -> str | None:
        """The secret to sign a job's events with; None if the job has no owner (any more)."""
        owner = get_user_model().objects.filter(photo_jobs__id=job_id).first()
        return cls.for_user(owner).secret if owner is not None else None

    @classmethod
    def rotate(cls, user: Any) -> "WebhookSecret":
        """A new secret at once: events signed from now on verify only with it."""
        current = cls.for_user(user)
        current.secret, current.created_at = new_secret(), timezone.now()
        current.save(update_fields=["secret", "created_at"])
        return current


class WebhookDelivery(models.Model):
    """One attempt to deliver a job's event to its webhook: the delivery log."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered"
        FAILED = "failed"  # retried by the webhooks actor while its retries last
        REFUSED = "refused"  # an address webhooks may not reach: never retried

    job = models.ForeignKey(
        "jobs.Job", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    url = models.URLField(max_length=500)
    event = models.CharField(max_length=32)
    attempt = models.PositiveIntegerField(default=1, help_text="1 + the actor's retries.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "jobs"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} to {self.url}: {self.outcome}"
