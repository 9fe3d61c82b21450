"""Prints the queues a kind of worker consumes (jobs/queues.py), for start scripts."""

from typing import Any

from django.core.management.base import BaseCommand

from jobs.queues import DELIVERY_QUEUES, stage_worker_queues


class Command(BaseCommand):
    help = "Print the queue names of the stage workers or of the delivery worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=["stages", "deliveries"])

    def handle(self, *args: Any, kind: str, **options: Any) -> None:
        names = stage_worker_queues() if kind == "stages" else DELIVERY_QUEUES
        self.stdout.write(" ".join(names))
