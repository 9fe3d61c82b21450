"""Which jobs an operator means: the selection behind `manage.py reprocess` (and the admin's
filters use the same lookups for labels and faces)."""

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from jobs.models import Job

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class BadSelection(ValueError):
    """The selection cannot be understood (an unknown id or owner, a bad date, no criterion)."""


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise), or a time ago: 90m, 2h, 7d."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), _UNITS[relative.group(2)]
        return timezone.now() - timedelta(**{unit: amount})
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        moment = None
    if moment is None:
        raise BadSelection(
            f"{text!r} is not a date: use 2026-01-31, 2026-01-31T12:00 or a time ago (90m, 2h, 7d)"
        )
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def label_q(label: str) -> Q:
    """Jobs whose detections carry ``label``. Matched on the JSON text of the list (with its
    quotes), which SQLite and PostgreSQL both support (JSON `contains` is PostgreSQL-only)."""
    return Q(detections__labels__icontains=f'"{label}"')


def faces_q(count: str) -> Q:
    """Jobs with no face ("0"), exactly one ("1"), or two or more ("2+")."""
    if count == "0":
        return Q(detections__isnull=False) & Q(detections__faces__0__isnull=True)
    if count == "1":
        return Q(detections__faces__0__isnull=False) & Q(detections__faces__1__isnull=True)
    if count == "2+":
        return Q(detections__faces__1__isnull=False)
    raise BadSelection(f"face count {count!r}: use 0, 1 or 2+")


@dataclass
class JobSelection:
    ids: Sequence[str] = ()
    statuses: Sequence[str] = ()
    stages: Sequence[str] = ()
    failed_stages: Sequence[str] = ()
    since: str | None = None
    until: str | None = None
    labels: Sequence[str] = ()
    owner: str | None = None
    everything: bool = False
    stale_minutes: float | None = None
    _query: QuerySet[Job] | None = field(default=None, init=False, repr=False)

    def is_empty(self) -> bool:
        return not (self.ids or self.statuses or self.stages or self.failed_stages
                    or self.since or self.until or self.labels or self.owner
                    or self.everything or self.stale_minutes is not None)

    def queryset(self) -> QuerySet[Job]:
        """Every criterion given must hold (AND); repeated ones are alternatives (OR)."""
        if self.is_empty():
            raise BadSelection(
                "say which jobs: ids, --status, --stage, --failed-stage, --since/--until, "
                "--label, --owner, --stale-minutes, or --all"
            )
        jobs = Job.objects.all()
        if self.ids:
            jobs = jobs.filter(pk__in=self._known_ids())
        if self.statuses:
            jobs = jobs.filter(status__in=self.statuses)
        if self.stages:
            jobs = jobs.filter(stage__in=self.stages)
        if self.failed_stages:
            jobs = jobs.filter(status=Job.Status.FAILED, stage__in=self.failed_stages)
        since = parse_moment(self.since) if self.since else None
        until = parse_moment(self.until) if self.until else None
        if since and until and since >= until:
            raise BadSelection(f"--since ({since:%Y-%m-%d %H:%M}) is not before --until "
                               f"({until:%Y-%m-%d %H:%M})")
        if since:
            jobs = jobs.filter(created_at__gte=since)
        if until:
            jobs = jobs.filter(created_at__lt=until)
        if self.labels:
            any_label = Q()
            for label in self.labels:
                any_label |= label_q(label)
            jobs = jobs.filter(any_label)
        if self.owner:
            owner = get_user_model().objects.filter(username=self.owner).first()
            if owner is None:
                raise BadSelection(f"no such user: {self.owner}")
            jobs = jobs.filter(owner=owner)
        if self.stale_minutes is not None:
            if self.stale_minutes < 0:
                raise BadSelection("--stale-minutes must be 0 or more")
            cutoff = timezone.now() - timedelta(minutes=self.stale_minutes)
            jobs = jobs.filter(status__in=Job.ACTIVE, updated_at__lte=cutoff)
        return jobs

    def _known_ids(self) -> list[uuid.UUID]:
        parsed = {raw: _as_uuid(raw) for raw in self.ids}
        known = set(Job.objects.filter(pk__in=[u for u in parsed.values() if u])
                    .values_list("pk", flat=True))
        unknown = [raw for raw, value in parsed.items() if value not in known]
        if unknown:
            raise BadSelection(f"no such job: {', '.join(unknown)}")
        return sorted(known)


def iter_ids(jobs: QuerySet[Job], batch: int = 500) -> Iterator[uuid.UUID]:
    """The selected ids in batches of ``batch`` (keyset on the primary key): never the whole
    selection in memory, and each batch a fresh query, so acting on a job while iterating is
    safe on SQLite too (a cursor held open across writes is not)."""
    last = None
    while True:
        page = jobs.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch])
        yield from ids
        if len(ids) < batch:
            return
        last = ids[-1]


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
