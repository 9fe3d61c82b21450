"""One-time costs of a web process paid at start (photopipe.gunicorn_conf)."""

from django.core.files.storage import default_storage
from django.urls import get_resolver
from rest_framework.settings import api_settings

# The classes DRF imports on first use of each setting.
_DRF_SETTINGS = (
    "DEFAULT_AUTHENTICATION_CLASSES", "DEFAULT_PERMISSION_CLASSES", "DEFAULT_THROTTLE_CLASSES",
    "DEFAULT_PARSER_CLASSES", "DEFAULT_RENDERER_CLASSES", "DEFAULT_PAGINATION_CLASS",
    "DEFAULT_FILTER_BACKENDS", "DEFAULT_CONTENT_NEGOTIATION_CLASS", "EXCEPTION_HANDLER",
)


def warm_up() -> None:
    """Import every view and DRF's configured classes, and build the S3 client's session.

    Builds objects only: no request to the database, the broker or S3.
    """
    get_resolver().url_patterns  # noqa: B018 - imports every URLconf and view
    for name in _DRF_SETTINGS:
        getattr(api_settings, name)
    if hasattr(default_storage, "client_config"):  # S3: the shared session parses its models
        default_storage.connection.meta.client  # noqa: B018
