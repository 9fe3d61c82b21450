"""The one place that enqueues Dramatiq messages, by actor name.

Sending inside an open transaction lets a worker pick the message up before the row it names
exists; send_on_commit sends only once the data is visible (and never if the transaction rolls
back). The broker maps names to actors, so nothing here imports the actors module.
"""

from typing import Any

import dramatiq
from django.db import transaction


def send_on_commit(actor_name: str, *args: Any, **kwargs: Any) -> None:
    # A named function, not a functools.partial: Django logs a robust callback's __qualname__
    # when it raises, and a partial has none (the logging itself would then fail the request).
    def send() -> None:
        send_now(actor_name, *args, **kwargs)

    send.__qualname__ = f"send_on_commit({actor_name!r})"
    # robust: if the broker is down the commit still stands; the reaper re-sends later.
    transaction.on_commit(send, robust=True)


def send_now(actor_name: str, *args: Any, **kwargs: Any) -> None:
    """Send at once: for callers that already run after the commit (signal receivers)."""
    dramatiq.get_broker().get_actor(actor_name).send(*args, **kwargs)
