"""One-time costs of a web process paid at start (photopipe.gunicorn_conf)."""

import mimetypes
import uuid

from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.settings import api_settings

# The classes DRF imports on first use of each setting.
_DRF_SETTINGS = (
    "DEFAULT_AUTHENTICATION_CLASSES", "DEFAULT_PERMISSION_CLASSES", "DEFAULT_THROTTLE_CLASSES",
    "DEFAULT_PARSER_CLASSES", "DEFAULT_RENDERER_CLASSES", "DEFAULT_PAGINATION_CLASS",
    "DEFAULT_FILTER_BACKENDS", "DEFAULT_CONTENT_NEGOTIATION_CLASS", "EXCEPTION_HANDLER",
)


def warm_up() -> None:
    """Import every view, index the URL patterns, load DRF's configured classes and build the
    S3 client's session. Builds objects only: no request to the database, the broker or S3.
    """
    # The first reverse() imports every URLconf and view and indexes every pattern (measured
    # ~280 ms of CPU per process).
    reverse("job-detail", kwargs={"pk": uuid.UUID(int=0)})
    for name in _DRF_SETTINGS:
        getattr(api_settings, name)
    mimetypes.init()  # reads the system's MIME tables (jobs.storage names each object's type)
    if hasattr(default_storage, "client_config"):
        # S3: the session parses botocore's models and builds the client every thread of the
        # process uses (jobs/s3_storage.py).
        default_storage.bucket  # noqa: B018
        getattr(default_storage, "checksummed_client", None)  # the originals' PUT client
