"""Swagger UI (/api/docs/) and Redoc (/api/redoc/), for the same callers as the schema.

Their assets come from drf-spectacular-sidecar as static files (SWAGGER_UI_DIST="SIDECAR"):
no CDN, so the pages work offline and under a strict Content-Security-Policy. A browser
logged in at /api-auth/login/ sees them; a refusal is JSON like every other API error,
not drf-spectacular's HTML page.
"""

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class _JSONErrors:
    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        # The page's negotiated renderer is the HTML template, which cannot show an error.
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = "application/json"  # type: ignore[attr-defined]
        return response


class SwaggerView(_JSONErrors, SpectacularSwaggerView):
    pass


class RedocView(_JSONErrors, SpectacularRedocView):
    pass
