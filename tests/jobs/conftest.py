from collections.abc import Callable, Iterator

import dramatiq
import pytest
from django.core.files.storage import default_storage
from dramatiq.brokers.stub import StubBroker
from rest_framework.test import APIClient

from jobs import services
from jobs.models import Job


@pytest.fixture(autouse=True)
def stub_broker() -> Iterator[StubBroker]:
    """tests/jobs never publish to a real RabbitMQ (only tests/integration do): every actor is
    moved onto an in-memory StubBroker for the test, so what a test sends can be inspected in
    ``stub_broker.queues`` and nothing reaches the broker `make test` started."""
    real = dramatiq.get_broker()
    stub = StubBroker()
    actors = [real.get_actor(name) for name in real.get_declared_actors()]
    for actor in actors:
        actor.broker = stub
        stub.declare_actor(actor)
    dramatiq.set_broker(stub)
    try:
        yield stub
    finally:
        for actor in actors:
            actor.broker = real
        dramatiq.set_broker(real)


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
