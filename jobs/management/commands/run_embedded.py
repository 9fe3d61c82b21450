"""Embedded mode: the web server plus in-process Dramatiq worker threads, one process."""

import os
from datetime import timedelta

import dramatiq
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from dramatiq.brokers.stub import StubBroker

from jobs.reaper import jobs_resume_stuck


class Command(BaseCommand):
    help = "Serve the API with in-process workers (no RabbitMQ needed)."

    def add_arguments(self, parser) -> None:
        default = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
        parser.add_argument("addrport", nargs="?", default=default)

    def handle(self, *args, addrport: str, **options) -> None:
        broker = dramatiq.get_broker()
        if not isinstance(broker, StubBroker):
            raise CommandError("run_embedded needs the in-process broker: unset RABBITMQ_URL")
        # The dramatiq CLI emits process_boot; without it TimeLimit never starts its timer and
        # a pathological image could hold a worker thread forever.
        broker.emit_after("process_boot")
        worker = dramatiq.Worker(
            broker, worker_threads=settings.PHOTOPIPE["EMBEDDED_WORKER_THREADS"], worker_timeout=100
        )
        worker.start()
        # Messages of the in-process broker die with the process: resume what a restart left.
        resumed = jobs_resume_stuck(older_than=timedelta(0))
        self.stderr.write(f"embedded workers started; {len(resumed)} unfinished job(s) resumed")
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            worker.stop(timeout=10_000)  # unfinished jobs are resumed on the next start
