"""The job list's filters, and the rule that a query parameter nobody reads is a 400.

Each filter reads an indexed column (jobs/facts.py says where the detection facts come from),
so a filtered list of 100,000 jobs stays an index lookup. ``label`` reads the labels JSON list:
on PostgreSQL ``labels @> '["face"]'`` with a GIN index (made by migration 0004); on SQLite
(embedded mode, small installs) a match on the list's JSON text.
"""

import json
from collections.abc import Iterable
from typing import Any

import django_filters
from django import forms
from django.db import connection
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from jobs import facts
from jobs.models import Job
from jobs.stages import ALL_STAGES

#: Read by DRF itself or the paginator, never by a filter.
GENERAL_PARAMS = frozenset({"format"})
PAGE_PARAMS = frozenset({"page", "page_size"})

_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def refuse_unknown_params(request: Request, known: Iterable[str]) -> None:
    """400 naming every query parameter the view does not read: ``?labels=face`` (a typo)
    silently returning every job would make the client believe it had filtered."""
    allowed = GENERAL_PARAMS | set(known)
    unknown = sorted(name for name in request.query_params if name not in allowed)
    if unknown:
        listing = ", ".join(sorted(allowed)) or "none"
        raise ValidationError({
            name: [f"unknown query parameter; this route reads: {listing}"] for name in unknown
        })


class _CountFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


@extend_schema_field(OpenApiTypes.BOOL)
class _StrictBooleanFilter(django_filters.Filter):
    """true/false (or 1/0); anything else is a 400, where django-filter's boolean filters
    quietly ignore a value they cannot read."""

    field_class = forms.TypedChoiceField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [(name, name) for name in _BOOLEANS])
        kwargs.setdefault("coerce", lambda value: _BOOLEANS[value])
        kwargs.setdefault("empty_value", None)
        super().__init__(*args, **kwargs)


class JobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Job.Status.choices)
    stage = django_filters.ChoiceFilter(
        choices=[(name, name) for name in ALL_STAGES],
        help_text="Current stage (the failing stage of a failed job).",
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    finished_after = django_filters.IsoDateTimeFilter(field_name="finished_at", lookup_expr="gte")
    finished_before = django_filters.IsoDateTimeFilter(field_name="finished_at", lookup_expr="lt")
    label = django_filters.CharFilter(
        method="filter_label", max_length=50,
        help_text="A detection label: face, faces, person, people, document, dark, bright, "
        "blurry, colorful, monochrome, landscape, portrait, square (or a custom detector's).",
    )
    faces_min = _CountFilter(
        field_name="face_count", lookup_expr="gte", min_value=0, help_text="At least N faces."
    )
    faces_max = _CountFilter(
        field_name="face_count", lookup_expr="lte", min_value=0, help_text="At most N faces."
    )
    color = django_filters.ChoiceFilter(
        field_name="dominant_color", choices=[(name, name) for name in facts.COLOR_NAMES],
        help_text="The dominant colour, by name.",
    )
    orientation = django_filters.ChoiceFilter(
        choices=[(name, name) for name in facts.ORIENTATIONS]
    )
    document = _StrictBooleanFilter(
        field_name="is_document",
        help_text="true: documents and screenshots (text on a plain background); false: others.",
    )
    owner = django_filters.CharFilter(
        method="filter_owner", max_length=150,
        help_text="Staff only: the owner's username.",
    )
    search = django_filters.CharFilter(
        field_name="original_name", lookup_expr="icontains", max_length=200,
        help_text="Part of the uploaded file's name (case-insensitive).",
    )

    class Meta:
        model = Job
        fields: list[str] = []

    def filter_label(self, jobs: QuerySet[Job], name: str, value: str) -> QuerySet[Job]:
        if connection.vendor == "postgresql":
            return jobs.filter(labels__contains=[value])
        # SQLite has no JSON containment: match the element, quotes included, in the list's
        # text ('"face"' does not match "faces").
        return jobs.filter(labels__icontains=json.dumps(value))

    def filter_owner(self, jobs: QuerySet[Job], name: str, value: str) -> QuerySet[Job]:
        user = getattr(self.request, "user", None)
        if not (user and user.is_staff):
            raise ValidationError({"owner": ["only staff may filter by owner"]})
        return jobs.filter(owner__username=value)
