"""Queue depths and dead-lettered messages, from whichever broker this process uses.

RabbitMQ is asked over a connection of its own with short timeouts (passive declares: nothing
is created), so a scrape or a dashboard refresh answers within seconds even when RabbitMQ does
not. The in-process broker of embedded mode is read directly: the admin, the dashboard and
/metrics run in the process whose worker threads drain it.
"""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name

from jobs import events

TIMEOUT_S = 3
PEEK_LIMIT = 50


@dataclass(frozen=True)
class QueueDepth:
    name: str
    ready: int | None  # None: unknown (the queue is not declared yet)
    delayed: int | None  # waiting out a retry backoff
    dead: int | None  # dead-lettered: retries ran out


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    actor: str
    args: list[Any]
    retries: int
    enqueued_at_ms: int
    error: str  # the last line of the traceback Dramatiq stored

    @property
    def job_id(self) -> str | None:
        """The job a stage or webhook message is about (its first argument, or the payload's)."""
        if not self.args:
            return None
        first = self.args[0]
        if isinstance(first, dict):
            return first.get("job_id") or (first.get("args") or [None])[0]
        return str(first)


class BrokerUnavailable(Exception):
    """RabbitMQ could not be reached for the statistics."""


def queue_names() -> list[str]:
    broker = dramatiq.get_broker()
    return sorted({broker.get_actor(name).queue_name for name in broker.get_declared_actors()})


def is_embedded() -> bool:
    return isinstance(dramatiq.get_broker(), StubBroker)


def queue_depths() -> list[QueueDepth]:
    """Every actor queue with its delay and dead-letter queues. Raises BrokerUnavailable."""
    names = queue_names()
    broker = dramatiq.get_broker()
    if isinstance(broker, StubBroker):
        def size(name: str) -> int | None:
            queue = broker.queues.get(name)
            return queue.qsize() if queue is not None else None

        return [
            QueueDepth(name, size(name), size(dq_name(name)),
                       len(broker.dead_letters_by_queue.get(name, [])))
            for name in names
        ]
    with _channel_factory() as channel_for:
        counts = {}
        for name in (q for base in names for q in (base, dq_name(base), xq_name(base))):
            counts[name] = _passive_count(channel_for, name)
    return [QueueDepth(n, counts[n], counts[dq_name(n)], counts[xq_name(n)]) for n in names]


def dead_letters(queue: str, limit: int = PEEK_LIMIT) -> list[DeadLetter]:
    """Up to ``limit`` dead-lettered messages of ``queue``, oldest first, left in place."""
    _check_queue(queue)
    broker = dramatiq.get_broker()
    if isinstance(broker, StubBroker):
        return [_dead_letter(_unproxied(proxy)) for proxy in
                list(broker.dead_letters_by_queue.get(queue, []))[:limit]]
    seen = []
    with _channel_factory() as channel_for:
        channel = channel_for()
        for _ in range(limit):
            _method, _properties, body = channel.basic_get(xq_name(queue), auto_ack=False)
            if body is None:
                break
            seen.append(_dead_letter(dramatiq.Message.decode(body)))
        # Unacknowledged: closing the channel returns them to the queue, in order.
    return seen


def dead_letter_requeue(queue: str, message_id: str | None = None) -> int:
    """Send dead-lettered messages of ``queue`` (one, or all) back to it with a fresh retry
    budget; returns how many. Each is enqueued (confirmed) before it is removed."""
    _check_queue(queue)
    broker = dramatiq.get_broker()
    moved = 0
    if isinstance(broker, StubBroker):
        letters = broker.dead_letters_by_queue.get(queue, [])
        for proxy in list(letters):
            if message_id in (None, proxy.message_id):
                broker.enqueue(_fresh(_unproxied(proxy)))
                letters.remove(proxy)
                moved += 1
        return moved
    with _channel_factory() as channel_for:
        channel = channel_for()
        depth = channel.queue_declare(xq_name(queue), passive=True).method.message_count
        for _ in range(depth):
            method, _properties, body = channel.basic_get(xq_name(queue), auto_ack=False)
            if body is None:
                break
            message = dramatiq.Message.decode(body)
            if message_id in (None, message.message_id):
                broker.enqueue(_fresh(message))
                channel.basic_ack(method.delivery_tag)
                moved += 1
                if message_id is not None:
                    break
        # The others were only looked at: closing the channel puts them back.
    return moved


def _unproxied(proxy: Any) -> dramatiq.Message:
    return dramatiq.Message(**proxy.asdict())


def _fresh(message: dramatiq.Message) -> dramatiq.Message:
    options = {k: v for k, v in message.options.items()
               if k not in ("retries", "traceback", "eta", "redis_message_id")}
    # Not message.copy(): it merges options, and the retry count must go.
    return dramatiq.Message(
        queue_name=message.queue_name.removesuffix(".XQ"), actor_name=message.actor_name,
        args=message.args, kwargs=message.kwargs, options=options,
        message_id=message.message_id, message_timestamp=message.message_timestamp,
    )


def _dead_letter(message: dramatiq.Message) -> DeadLetter:
    trace = str(message.options.get("traceback") or "").strip().splitlines()
    return DeadLetter(
        message_id=message.message_id, actor=message.actor_name, args=list(message.args),
        retries=int(message.options.get("retries", 0)),
        enqueued_at_ms=int(message.message_timestamp), error=trace[-1] if trace else "",
    )


def _check_queue(queue: str) -> None:
    if queue not in queue_names():
        raise ValueError(f"no such queue: {queue}")


@contextlib.contextmanager
def _channel_factory() -> Iterator[Any]:
    """A short-timeout connection to RabbitMQ; yields a function that opens channels."""
    try:
        connection = events.connect(timeout_s=TIMEOUT_S)
    except pika.exceptions.AMQPError as error:
        raise BrokerUnavailable(f"{type(error).__name__}: {error}") from None
    try:
        yield connection.channel
    finally:
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection.close()


def _passive_count(channel_for: Any, name: str) -> int | None:
    channel = channel_for()
    try:
        return channel.queue_declare(name, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:
        return None  # 404: not declared yet (no worker and no message so far)
    finally:
        with contextlib.suppress(pika.exceptions.AMQPError):
            if channel.is_open:
                channel.close()


def describe_args(args: list[Any]) -> str:
    return json.dumps(args, default=str)[:200]
