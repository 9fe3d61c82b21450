"""Request-rate limits beyond DRF's per-user and per-address ones, and the client address."""

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle, UserRateThrottle

if TYPE_CHECKING:  # DRF's views import the permission settings: no cycle at run time
    from rest_framework.request import Request
    from rest_framework.views import APIView


class UploadRateThrottle(UserRateThrottle):
    """Uploads (the `create` action) per user, or per address for anonymous clients.

    Uploads cost storage and worker time, so they get a tighter rate ("upload") than reads.
    """

    scope = "upload"

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        if getattr(view, "action", None) != "create":
            return True
        return super().allow_request(request, view)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the API throttles see it (REST_FRAMEWORK["NUM_PROXIES"]).

    django-axes uses it too (AXES_CLIENT_IP_CALLABLE), so a login lockout and an API throttle
    agree on who the client is, and neither trusts a forged X-Forwarded-For.
    """
    return BaseThrottle().get_ident(request)
