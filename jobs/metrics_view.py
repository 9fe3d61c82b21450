"""GET /metrics: Prometheus text format, no authentication (keep it off the public proxy)."""

import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from jobs.metrics import state_collector


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: every process's counters from the shared directory, plus
        # the state read now (jobs per status, queue depths).
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(state_collector())
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
