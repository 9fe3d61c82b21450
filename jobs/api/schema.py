"""The OpenAPI schema's error responses: every route documents the 4xx it can answer.

drf-spectacular documents the success answer of each operation. The error answers common to
many routes are added here, from what the view really does, so no view has to repeat them:

- 400 ValidationError: a bad request body, or a query parameter the route does not read
  (``strict_query_params`` views) or cannot use;
- 401: every route behind token authentication (no token, or a wrong one);
- 403: unsafe methods (a browser session's CSRF check; quotas on uploads);
- 404: routes with an ``{id}`` (unknown, or another user's job);
- 429: throttled routes (``Retry-After`` says when to come back).

Errors particular to one action (409, 413, 415, 422) are declared on it with ``errors()``.
tests/jobs/test_openapi.py checks that every status the test suite meets is documented.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    code = serializers.CharField(
        required=False, help_text="A stable name for the error, for a program to test."
    )


class QuotaErrorSerializer(ErrorSerializer):
    quota = serializers.CharField(help_text="jobs_per_day or stored_bytes")
    limit = serializers.IntegerField()
    used = serializers.IntegerField()


VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/ValidationError"}

_DESCRIPTIONS = {
    400: "Bad request: the fields or query parameters named in the body.",
    401: "No token, or an invalid one (Authorization: Token <key>).",
    403: "Refused: a browser session's CSRF check failed, or a quota that only deleting jobs "
    "frees (stored bytes).",
    404: "No such job, or not yours.",
    409: "The job's state does not allow this now.",
    413: "The file (or its pixel count) is over the limit.",
    415: "Not an image format Photopipe reads.",
    422: "The Idempotency-Key was used before with a different request.",
    429: "Too many requests, or the daily job quota: Retry-After says when to try again.",
}

_EXAMPLES = {
    400: {"file": ["Upload exactly one file in the field 'file'; this request has 2."]},
    401: {"detail": "Authentication credentials were not provided."},
    403: {"detail": "CSRF Failed: CSRF token missing."},
    404: {"detail": "No Job matches the given query."},
    409: {"detail": "a completed job cannot become cancelled", "code": "IllegalTransition"},
    413: {"detail": "file too large: 60000000 bytes, over the 52428800 byte limit",
          "code": "ImageTooLarge"},
    415: {"detail": "unsupported format (PDF)", "code": "UnsupportedFormat"},
    422: {"detail": "this Idempotency-Key was used with a different request",
          "code": "idempotency_key_reused"},
    429: {"detail": "Request was throttled. Expected available in 12 seconds."},
}


def error_response(code: int) -> OpenApiResponse:
    body: Any = VALIDATION_ERROR_REF if code == 400 else ErrorSerializer
    if code in (403, 429):
        body = {"oneOf": [{"$ref": "#/components/schemas/Error"},
                          {"$ref": "#/components/schemas/QuotaError"}]}
    return OpenApiResponse(
        response=body, description=_DESCRIPTIONS[code],
        examples=[OpenApiExample(f"{code}", value=_EXAMPLES[code], response_only=True,
                                 status_codes=[str(code)])],
    )


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for ``extend_schema(responses={..., **errors(409)})``."""
    return {code: error_response(code) for code in codes}


class PhotopipeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses every route shares."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._shared_error_codes():
            responses.setdefault(str(code), self._get_response_for_code(
                error_response(code), str(code), direction=direction
            ))
        # The Error and QuotaError components are referenced by hand in the oneOf above.
        self.resolve_serializer(ErrorSerializer, direction)
        self.resolve_serializer(QuotaErrorSerializer, direction)
        return dict(sorted(responses.items()))

    def _shared_error_codes(self) -> list[int]:
        view, unsafe = self.view, self.method not in ("GET", "HEAD", "OPTIONS")
        codes = []
        if getattr(view, "strict_query_params", False) or (unsafe and self._get_request_body()):
            codes.append(400)
        if any(isinstance(auth, TokenAuthentication) for auth in view.get_authenticators()):
            codes.append(401)
        if unsafe:
            codes.append(403)
        if "{" in self.path:
            codes.append(404)
        if view.get_throttles():
            codes.append(429)
        return codes
