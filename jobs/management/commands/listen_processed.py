import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.events import EXCHANGE, connect, declare_exchange


class Command(BaseCommand):
    help = f"Subscribe to the '{EXCHANGE}' fanout exchange and print each completion event."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=0, help="Stop after N events.")
        parser.add_argument(
            "--queue", default="",
            help="Durable queue to bind (survives restarts); default: a private temporary one.",
        )

    def handle(self, *args, count: int, queue: str, **options) -> None:
        if not settings.RABBITMQ_URL:
            raise CommandError("RABBITMQ_URL is not set: events are only broadcast via RabbitMQ")
        connection = connect()
        channel = connection.channel()
        declare_exchange(channel)
        declared = channel.queue_declare(queue=queue, durable=bool(queue), exclusive=not queue)
        channel.queue_bind(queue=declared.method.queue, exchange=EXCHANGE)
        self.stderr.write(f"listening on {EXCHANGE} (queue {declared.method.queue})")
        received = 0
        try:
            for method, _properties, body in channel.consume(declared.method.queue):
                self.stdout.write(json.dumps(json.loads(body), sort_keys=True))
                self.stdout.flush()
                channel.basic_ack(method.delivery_tag)
                received += 1
                if count and received >= count:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            connection.close()
