import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

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
