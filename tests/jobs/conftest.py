import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
from django.core.files.storage import default_storage
from dramatiq.brokers.stub import StubBroker
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs import services
from jobs.models import Job


@pytest.fixture(autouse=True)
def stub_broker(settings: Any) -> Iterator[StubBroker]:
    """tests/jobs never publish to a real RabbitMQ (only tests/integration do): every actor is
    moved onto an in-memory StubBroker for the test, so what a test sends can be inspected in
    ``stub_broker.queues`` and nothing reaches the broker `make test` started. The settings say
    the same (no RABBITMQ_URL), so code that asks which broker it has gets the truth."""
    settings.RABBITMQ_URL = ""
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


@pytest.fixture(autouse=True)
def _own_throttle_counters(settings: Any) -> None:
    """Throttle counters live in the cache: one test's requests must not count in the next.

    A key prefix of its own per test rather than cache.clear(): on PostgreSQL the cache is a
    table, and clearing it would need database access in tests that have none.
    """
    default = settings.CACHES["default"]
    settings.CACHES = {
        **settings.CACHES, "default": {**default, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


@pytest.fixture(autouse=True)
def _no_dedupe(settings: Any) -> None:
    """Most tests upload the same sample image again and again and mean each upload to be
    processed; dedupe (on by default) would complete the repeats at once. Its own tests
    (test_api_extras.py) switch it back on."""
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "DEDUPE": False}


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def other_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob")


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("ops", is_staff=True)


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    """An API client that sends `user`'s token, as a real client does; None: anonymous."""

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def api(client_for: Callable[[Any], APIClient], user: Any) -> APIClient:
    """The usual client: `user`, who owns the jobs `submit` makes."""
    return client_for(user)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def submit(image_bytes: Callable[[str], bytes], user: Any) -> Callable[..., Job]:
    """Create a job through the service, as the API does (its message is only captured).

    Owned by `user` unless `owner=` says otherwise (owner=None: an anonymous upload).
    """

    def make(name: str = "astronaut.png", **kwargs: Any) -> Job:
        kwargs.setdefault("owner", user)
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


@pytest.fixture(autouse=True, scope="session")
def _record_api_statuses() -> Iterator[None]:
    """Record every status an APIClient meets; test_openapi.py compares them with the schema."""
    from tests.jobs import status_recorder

    undo = status_recorder.install()
    yield
    undo()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The documented-vs-met status test runs after every other test of the session."""
    last = [item for item in items if item.get_closest_marker("after_all_api_tests")]
    items[:] = [item for item in items if item not in last] + last
