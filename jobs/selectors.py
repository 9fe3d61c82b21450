"""Reads that depend on who is asking."""

from typing import Any

from django.db.models import QuerySet

from jobs.models import Batch, Job


def jobs_visible_to(user: Any) -> QuerySet[Job]:
    """Staff see every job; a user sees their own; an anonymous client sees only anonymous
    jobs (reachable by id alone, and only in PHOTOPIPE_ANONYMOUS=by-id mode).
    """
    return _visible_to(Job.objects.all(), user)


def batches_visible_to(user: Any) -> QuerySet[Batch]:
    """The same rule as jobs_visible_to, for batches."""
    return _visible_to(Batch.objects.all(), user)


def _visible_to(owned: QuerySet, user: Any) -> QuerySet:
    if user is None or not user.is_authenticated:
        return owned.filter(owner__isnull=True)
    if user.is_staff:
        return owned
    return owned.filter(owner=user)
