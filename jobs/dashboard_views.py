"""The live dashboard (/dashboard/, staff only): a page whose panels htmx refreshes every few
seconds, and the charts' JSON. Reads only (jobs/dashboard.py)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from jobs import dashboard

REFRESH_S = 3


@never_cache
@staff_member_required
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/index.html", {"refresh_s": REFRESH_S, **_panels()})


@never_cache
@staff_member_required
def panels(request: HttpRequest) -> HttpResponse:
    """The page's panels alone: what htmx swaps in on every refresh."""
    return render(request, "dashboard/panels.html", _panels())


@never_cache
@staff_member_required
def charts(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dashboard.charts())


def _panels() -> dict[str, object]:
    by_status = dashboard.jobs_by_status()
    return {
        "by_status": by_status,
        "total": sum(by_status.values()),
        "speeds": dashboard.stage_percentiles(),
        "queues": dashboard.queues(),
        "failures": dashboard.failures(),
        "latest": dashboard.latest_jobs(),
        "workers": dashboard.recent_workers(),
    }
