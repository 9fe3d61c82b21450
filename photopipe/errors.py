"""Error pages: JSON under /api/, Django's own pages elsewhere (admin, browsable login).

Django calls these for errors no view answered itself: a URL that matches nothing (404), an
unhandled exception (500), a SuspiciousOperation such as an over-long form (400). DRF already
answers its own errors in JSON; these cover the rest, so an API client never gets HTML.
With DEBUG on (`make run` only), Django shows its debug pages instead and never calls them.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Any) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Any) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"detail": "Permission denied.", "code": "permission_denied"}, status=403
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Any) -> HttpResponse:
    if _is_api(request):
        # Says nothing of the URL patterns that exist (the debug 404 lists them all).
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
