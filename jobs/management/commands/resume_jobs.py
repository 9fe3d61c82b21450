import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from jobs.models import Job
from jobs.reaper import jobs_rebroadcast_unnotified, jobs_resume_stuck
from jobs.retention import jobs_purge_expired


class Command(BaseCommand):
    help = (
        "The reaper: re-send the current stage of jobs stuck in queued/processing, and "
        "completion events that never reached RabbitMQ; with PHOTOPIPE_RETENTION_DAYS > 0, "
        "delete finished jobs older than that (as purge_jobs does)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than", type=int, default=settings.PHOTOPIPE["REAPER_TIMEOUT_S"],
            help="Seconds without progress before a job counts as stuck.",
        )
        parser.add_argument(
            "--every", type=int, default=0,
            help="Keep sweeping every N seconds (a reaper service) instead of once.",
        )

    def handle(self, *args, older_than: int, every: int, **options) -> None:
        if not settings.RABBITMQ_URL:
            self._embedded(every)
            return
        while True:
            if every:
                close_old_connections()  # a long-lived loop: drop connections a restart killed
            try:
                resumed = jobs_resume_stuck(older_than=timedelta(seconds=older_than))
                jobs_rebroadcast_unnotified(older_than=timedelta(seconds=older_than))
            except DatabaseError as error:
                if not every:
                    raise
                self.stderr.write(f"sweep failed, trying again in {every} s: {error}")
                resumed = []
            for job_id in resumed:
                self.stderr.write(f"{job_id}: resumed")
            self.stdout.write(f"{len(resumed)} job(s) resumed")
            self._purge_expired(every)
            if not every:
                return
            time.sleep(every)

    def _embedded(self, every: int) -> None:
        """Embedded mode: a message sent from here would die with this process's in-process
        broker, so nothing is sent; the server (make run) resumes jobs itself."""
        waiting = Job.objects.filter(status__in=Job.ACTIVE).count()
        self.stdout.write(
            f"embedded mode: nothing is sent from here. The running server (make run) resumes "
            f"unfinished jobs itself, at start and every "
            f"{settings.PHOTOPIPE['EMBEDDED_SWEEP_S']:g} s; {waiting} job(s) are queued or "
            "processing."
        )
        if every:
            raise CommandError("--every is for the reaper service beside RabbitMQ; in embedded "
                               "mode the server sweeps itself")
        self._purge_expired(every)

    def _purge_expired(self, every: int) -> None:
        try:
            report = jobs_purge_expired()
        except Exception as error:  # storage or database down: the next sweep tries again
            if not every:
                raise
            self.stderr.write(f"retention purge failed, trying again in {every} s: {error}")
            return
        if report is not None:
            self.stdout.write(f"retention: {report.summary()}")
