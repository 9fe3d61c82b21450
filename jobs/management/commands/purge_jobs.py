from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from jobs.models import Job
from jobs.retention import FINISHED, jobs_purge


class Command(BaseCommand):
    help = (
        "Delete jobs older than N days (by finish time, else creation time) with their stage "
        "runs and every stored object: original, intermediates, result."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", type=float, required=True, metavar="DAYS")
        parser.add_argument(
            "--status", action="append", choices=Job.Status.values, dest="statuses",
            help=f"Only jobs in this status (repeatable). Default: {', '.join(FINISHED)}. "
            "Active jobs named here are cancelled first.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args, older_than: float, statuses: list[str] | None, dry_run: bool,
               **options) -> None:
        if older_than < 0:
            raise CommandError("--older-than must be 0 or more days")
        show_bar = options["verbosity"] > 0

        def progress(ids: list[str]) -> tqdm:
            # The raw stream: Django's OutputWrapper ends every write with a newline, which
            # would turn the bar's in-place updates into one line each.
            return tqdm(ids, desc="purging", unit="job", file=self.stderr._out,
                        disable=not show_bar)

        report = jobs_purge(
            older_than=timedelta(days=older_than), statuses=statuses or FINISHED,
            dry_run=dry_run, progress=progress,
        )
        if options["verbosity"] > 1:
            for job_id in report.jobs:
                self.stderr.write(f"{job_id}: {'would be ' if dry_run else ''}deleted")
        self.stdout.write(report.summary(dry_run=dry_run))
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} job(s) could not be deleted (see the log): "
                + ", ".join(report.failed)
            )

