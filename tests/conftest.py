"""Shared fixtures: test images, and a private media root for every test."""

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
_S3_BACKEND = "jobs.s3_storage.S3Storage"

# The processes tests start (workers, servers, commands) run as deployed: a secret key of
# their own and no debug, so the photopipe.W001/W002 checks have nothing to say on stderr.
os.environ.setdefault("DJANGO_SECRET_KEY", f"tests-{secrets.token_urlsafe(40)}")
os.environ.setdefault("DJANGO_DEBUG", "0")


@pytest.fixture
def image_bytes() -> Callable[[str], bytes]:
    """Bytes of a sample image from testdata/ (astronaut.png has one frontal face)."""

    def load(name: str) -> bytes:
        return (TESTDATA / name).read_bytes()

    return load


@pytest.fixture(autouse=True)
def private_media_root(request: pytest.FixtureRequest, tmp_path_factory) -> None:
    """Every test stores files under its own temporary folder, never under the repo's var/.

    Only integration tests against the S3 endpoint keep the configured storage; everything
    else (unit and API tests included, even when `make test` exports the S3 variables) uses
    local files in a folder pytest removes.
    """
    from django.conf import settings as django_settings

    configured = django_settings.STORAGES["default"]["BACKEND"]
    if request.node.get_closest_marker("integration") and configured == _S3_BACKEND:
        return
    settings = request.getfixturevalue("settings")
    media = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(media)
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media), "allow_overwrite": True},
        },
    }
