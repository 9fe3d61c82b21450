"""Reads that depend on who is asking."""

from typing import Any

from django.db.models import QuerySet

from jobs.models import Batch, Job


def jobs_visible_to(user: Any) -> QuerySet[Job]:
    """Staff see every job; a user sees their own; an anonymous client sees only anonymous
    jobs (reachable by id alone, and only in PHOTOPIPE_ANONYMOUS=by-id mode).
    """
    jobs = Job.objects.all()
    if user is None or not user.is_authenticated:
        return jobs.filter(owner__isnull=True)
    if user.is_staff:
        return jobs
    return jobs.filter(owner=user)


def batches_visible_to(user: Any) -> QuerySet[Batch]:
    """The same rule as jobs_visible_to, for batches."""
    batches = Batch.objects.all()
    if user is None or not user.is_authenticated:
        return batches.filter(owner__isnull=True)
    if user.is_staff:
        return batches
    return batches.filter(owner=user)
