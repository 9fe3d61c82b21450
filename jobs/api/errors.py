"""Maps processing's image errors and quota refusals to HTTP answers with the reason in
``detail``."""

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

import processing
from jobs.idempotency import KeyReused
from jobs.models import IllegalTransition, ReprocessRefused
from jobs.quotas import QuotaExceeded
from jobs.similarity import NotDetectedYet

_STATUS_FOR = {
    processing.ImageTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    processing.UnsupportedFormat: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    processing.CorruptImage: status.HTTP_400_BAD_REQUEST,
    processing.TooManyFrames: status.HTTP_400_BAD_REQUEST,
    processing.ImageError: status.HTTP_400_BAD_REQUEST,
    processing.InvalidStep: status.HTTP_400_BAD_REQUEST,
    IllegalTransition: status.HTTP_409_CONFLICT,
    ReprocessRefused: status.HTTP_400_BAD_REQUEST,
    NotDetectedYet: status.HTTP_409_CONFLICT,
}


# Django's own refusals of an oversized request, met while DRF parses it; their messages name
# settings, so the client gets a plain reason instead.
_REQUEST_REFUSALS = {
    RequestDataTooBig: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "request body too large"),
    TooManyFieldsSent: (status.HTTP_400_BAD_REQUEST, "too many form fields"),
    TooManyFilesSent: (status.HTTP_400_BAD_REQUEST, "too many files"),
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, QuotaExceeded):
        return _quota_response(exc)
    if isinstance(exc, KeyReused):
        return Response(
            {"detail": str(exc), "code": "idempotency_key_reused"},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    for error_type, (code, reason) in _REQUEST_REFUSALS.items():
        if isinstance(exc, error_type):
            return Response({"detail": reason, "code": error_type.__name__}, status=code)
    for error_type, code in _STATUS_FOR.items():
        if isinstance(exc, error_type):
            return Response({"detail": str(exc), "code": error_type.__name__}, status=code)
    return drf_exception_handler(exc, context)


def _quota_response(exc: QuotaExceeded) -> Response:
    """429 + Retry-After when time frees room (jobs per day); 403 when only deleting jobs can
    (stored bytes): waiting does not help, and 413 would read as "this file is too big"."""
    body = {
        "detail": str(exc), "code": "quota_exceeded", "quota": exc.quota, "limit": exc.limit,
        "used": exc.used,
    }
    if exc.retry_after is not None:
        return Response(
            body, status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    return Response(body, status=status.HTTP_403_FORBIDDEN)
