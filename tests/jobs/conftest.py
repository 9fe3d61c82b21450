from collections.abc import Callable

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from jobs import services
from jobs.models import Job


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def submit(image_bytes: Callable[[str], bytes]) -> Callable[..., Job]:
    """Create a job through the service, as the API does (its message is only captured)."""

    def make(name: str = "astronaut.png", **kwargs) -> Job:
        return services.job_submit(data=image_bytes(name), filename=name, **kwargs)

    return make


@pytest.fixture
def stored_originals() -> Callable[[], set[str]]:
    """Names of the originals in storage, to prove a refused upload leaves nothing behind."""

    def listing() -> set[str]:
        try:
            return set(default_storage.listdir("originals")[1])
        except FileNotFoundError:
            return set()

    return listing


@pytest.fixture
def media_root(settings, tmp_path) -> Callable[[], set[str]]:
    """Local file storage in a temporary directory (nothing lands under var/media); returns
    a function listing every file stored there, as storage keys."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "allow_overwrite": True},
        },
    }

    def stored() -> set[str]:
        return {
            path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()
        }

    return stored
