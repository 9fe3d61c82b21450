"""Embedded mode: the web server plus in-process Dramatiq worker threads, one process."""

import os
from datetime import timedelta

import dramatiq
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from dramatiq.brokers.stub import StubBroker

from jobs.demo import DemoAccount, demo_account_ensure
from jobs.embedded import HeldMessages, Sweeper
from jobs.queues import DELIVERY_QUEUES, stage_worker_queues
from jobs.reaper import jobs_resume_stuck


def embedded_workers(broker: dramatiq.Broker) -> list[dramatiq.Worker]:
    """The stage worker, and a worker of its own for deliveries: a webhook endpoint that
    answers slowly holds a delivery thread, never one that processes images."""
    stage_threads = settings.PHOTOPIPE["EMBEDDED_WORKER_THREADS"]
    return [
        dramatiq.Worker(broker, queues=set(stage_worker_queues()),
                        worker_threads=stage_threads, worker_timeout=100),
        dramatiq.Worker(broker, queues=set(DELIVERY_QUEUES), worker_threads=2,
                        worker_timeout=100),
    ]


class Command(BaseCommand):
    help = "Serve the API with in-process workers (no RabbitMQ needed)."

    def add_arguments(self, parser) -> None:
        default = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
        parser.add_argument("addrport", nargs="?", default=default)

    def handle(self, *args, addrport: str, **options) -> None:
        broker = dramatiq.get_broker()
        if not isinstance(broker, StubBroker):
            raise CommandError("run_embedded needs the in-process broker: unset RABBITMQ_URL")
        # Before anything is sent: counts which jobs this process's broker holds a message for.
        held = HeldMessages()
        broker.add_middleware(held)
        # The dramatiq CLI emits process_boot; without it TimeLimit never starts its timer and
        # a pathological image could hold a worker thread forever.
        broker.emit_after("process_boot")
        workers = embedded_workers(broker)
        for worker in workers:
            worker.start()
        # Messages of the in-process broker die with the process: resume what a restart left.
        resumed = jobs_resume_stuck(older_than=timedelta(0))
        # Jobs queued by another process (manage.py reprocess, resume_jobs) whose messages
        # died with that process's own in-process broker: picked up every few seconds.
        sweeper = Sweeper(held, settings.PHOTOPIPE["EMBEDDED_SWEEP_S"])
        sweeper.start()
        self.stderr.write(
            f"embedded workers started; {len(resumed)} unfinished job(s) resumed; jobs queued "
            f"by other processes are picked up every {sweeper.every_s:g} s"
        )
        self._introduce(addrport, demo_account_ensure())
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            sweeper.stop()
            for worker in workers:
                worker.stop(timeout=10_000)  # unfinished jobs are resumed on the next start

    def _introduce(self, addrport: str, demo: DemoAccount | None) -> None:
        """How to reach the API from here: the demo account's token and a curl line."""
        base = f"http://{addrport}"
        lines = []
        if settings.DEBUG:
            lines.append("DEBUG is on (DJANGO_DEBUG=1, set by `make run`): error pages show "
                         "tracebacks and settings. Local use only.")
        if demo is None:
            lines.append("API token: python manage.py drf_create_token USERNAME")
        else:
            if demo.password is not None:
                lines.append(f"created local user {demo.username!r}, password "
                             f"{demo.password} (shown only now; local use only)")
            lines += [
                f"API token of {demo.username!r}: {demo.token}",
                f'  curl -H "Authorization: Token {demo.token}" {base}/api/v1/jobs/',
                f"  browsable API: {base}/api-auth/login/ as {demo.username!r}",
            ]
        anonymous = settings.PHOTOPIPE_ANONYMOUS
        lines.append(f"anonymous access: {anonymous} (PHOTOPIPE_ANONYMOUS)")
        self.stdout.write("\n".join(lines))
