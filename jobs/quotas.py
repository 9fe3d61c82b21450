"""Per-user quotas, checked before an upload is stored: jobs per day and stored bytes.

A soft limit: two uploads racing past the check together can both land, so a user may end at
most the number of concurrent uploads over it. Staff and anonymous uploads are not counted
here (anonymous ones are bounded by the per-address throttles).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone

from jobs.models import Job

QUOTA_WINDOW = timedelta(days=1)


@dataclass(eq=False)
class QuotaExceeded(Exception):
    """An upload the user's quota has no room for; `retry_after` seconds when time frees it."""

    quota: str
    limit: int
    used: int
    retry_after: int | None = None

    def __str__(self) -> str:
        if self.quota == "jobs_per_day":
            return f"quota exceeded: {self.used} of {self.limit} jobs in the last 24 hours"
        return (
            f"quota exceeded: {self.used} bytes stored of {self.limit}; this upload would "
            "go over it"
        )


def quota_check_upload(*, user: Any, upload_bytes: int) -> None:
    """Raise QuotaExceeded if `user` may not add a job of `upload_bytes` now."""
    if not getattr(user, "is_authenticated", False) or user.is_staff:
        return
    limits = settings.PHOTOPIPE
    jobs = Job.objects.filter(owner=user)
    per_day = limits["QUOTA_JOBS_PER_DAY"]
    if per_day:
        since = timezone.now() - QUOTA_WINDOW
        recent = jobs.filter(created_at__gte=since).aggregate(
            count=Count("pk"), oldest=Min("created_at")
        )
        if recent["count"] >= per_day:
            # Room comes back when the oldest job in the window leaves it.
            wait = recent["oldest"] + QUOTA_WINDOW - timezone.now()
            raise QuotaExceeded(
                "jobs_per_day", per_day, recent["count"], max(1, int(wait.total_seconds()) + 1)
            )
    max_bytes = limits["QUOTA_BYTES"]
    if max_bytes:
        stored = jobs.aggregate(total=Sum("original_bytes"))["total"] or 0
        if stored + upload_bytes > max_bytes:
            raise QuotaExceeded("stored_bytes", max_bytes, stored)

