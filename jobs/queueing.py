"""The one place that enqueues Dramatiq messages: always after the transaction commits.

Sending inside an open transaction lets a worker pick the message up before the row it names
exists; on_commit sends only once the data is visible (and never if the transaction rolls back).
"""

from collections.abc import Callable
from typing import Any

from django.db import transaction


def send_on_commit(actor_name: str, *args: Any) -> None:
    # robust: if the broker is down the commit still stands; the reaper re-sends later.
    transaction.on_commit(_sender(actor_name, args), robust=True)


def _sender(actor_name: str, args: tuple[Any, ...]) -> Callable[[], None]:
    def send() -> None:
        from jobs import actors  # actors import services; importing lazily avoids a cycle

        actors.by_name(actor_name).send(*args)

    return send
