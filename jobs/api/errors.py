"""Maps processing's image errors to HTTP answers with the reason in ``detail``."""

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

import processing
from jobs.models import IllegalTransition, ReprocessRefused

_STATUS_FOR = {
    processing.ImageTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    processing.UnsupportedFormat: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    processing.CorruptImage: status.HTTP_400_BAD_REQUEST,
    processing.TooManyFrames: status.HTTP_400_BAD_REQUEST,
    processing.ImageError: status.HTTP_400_BAD_REQUEST,
    processing.InvalidStep: status.HTTP_400_BAD_REQUEST,
    IllegalTransition: status.HTTP_409_CONFLICT,
    ReprocessRefused: status.HTTP_400_BAD_REQUEST,
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    for error_type, code in _STATUS_FOR.items():
        if isinstance(exc, error_type):
            return Response({"detail": str(exc), "code": error_type.__name__}, status=code)
    return drf_exception_handler(exc, context)
