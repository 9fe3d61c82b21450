from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from jobs.bulk import REFUSED, reprocess_one
from jobs.models import Job
from jobs.selection import BadSelection, JobSelection, iter_ids
from jobs.stages import ALL_STAGES


class Command(BaseCommand):
    help = (
        "Run jobs again through the same service as the API's reprocess action. Select by "
        "ids and/or criteria (all must hold; a repeated option means any of its values)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_ids", nargs="*", metavar="JOB_ID")
        parser.add_argument("--status", action="append", choices=Job.Status.values,
                            dest="statuses", default=[], help="Jobs in this status.")
        parser.add_argument("--stage", action="append", choices=ALL_STAGES, dest="stages",
                            default=[], help="Jobs whose current (or failing) stage is this.")
        parser.add_argument("--failed-stage", action="append", choices=ALL_STAGES,
                            dest="failed_stages", default=[], help="Jobs that failed there.")
        parser.add_argument("--since",
                            help="Created at or after: 2026-01-31[T12:00], or 2h, 7d ago.")
        parser.add_argument("--until", help="Created before (same forms as --since).")
        parser.add_argument("--label", action="append", dest="labels", default=[],
                            help="Jobs whose detections have this label (face, person, ...).")
        parser.add_argument("--owner", help="Jobs uploaded by this user name.")
        parser.add_argument("--all", action="store_true", dest="everything",
                            help="Every job (with other criteria: no further restriction).")
        parser.add_argument(
            "--stale-minutes", type=float, metavar="N",
            help="Jobs stuck queued or processing, untouched for N minutes: each is cancelled "
            "and run again from its first stage.",
        )
        parser.add_argument("--from-stage", choices=ALL_STAGES, default=None,
                            help="Start here; the earlier stages' outputs are reused.")
        parser.add_argument("--dry-run", action="store_true",
                            help="List what would happen; change and send nothing.")

    def handle(self, *args, job_ids: list[str], from_stage: str | None, dry_run: bool,
               **options) -> None:
        selection = JobSelection(
            ids=job_ids, statuses=options["statuses"], stages=options["stages"],
            failed_stages=options["failed_stages"], since=options["since"],
            until=options["until"], labels=options["labels"], owner=options["owner"],
            everything=options["everything"], stale_minutes=options["stale_minutes"],
        )
        try:
            jobs = selection.queryset()
            total = jobs.count()
        except BadSelection as error:
            raise CommandError(str(error)) from None
        verbosity = options["verbosity"]
        # The raw stream: Django's OutputWrapper ends every write with a newline, which would
        # turn the bar's in-place updates into one line each.
        bar = tqdm(total=total, desc="dry run" if dry_run else "reprocessing", unit="job",
                   file=self.stderr._out, disable=verbosity == 0)
        counts: Counter[str] = Counter()
        with bar:
            for job_id in iter_ids(jobs):
                outcome = reprocess_one(
                    job_id, from_stage=from_stage, dry_run=dry_run,
                    restart_active=selection.stale_minutes is not None,
                )
                counts[outcome.action] += 1
                line = f"{job_id}: {'would be ' if dry_run else ''}{outcome.action}: " \
                       f"{outcome.detail}"
                if dry_run:
                    bar.write(line, file=self.stdout._out)
                elif outcome.action == REFUSED or verbosity > 1:
                    bar.write(line, file=self.stderr._out)
                bar.update()
        self.stdout.write(self._summary(counts, dry_run))
        if not dry_run and counts[REFUSED]:
            raise CommandError(f"{counts[REFUSED]} job(s) could not be reprocessed")

    def _summary(self, counts: Counter[str], dry_run: bool) -> str:
        done = counts["requeued"] + counts["restarted"]
        verb = "would be requeued" if dry_run else "requeued"
        restarted = f" ({counts['restarted']} stuck, restarted)" if counts["restarted"] else ""
        summary = f"{done} job(s) {verb}{restarted}, {counts[REFUSED]} refused"
        if not done or dry_run:
            return summary + (" (dry run: nothing changed)" if dry_run else "")
        if not settings.RABBITMQ_URL:
            # This process's in-process broker dies with it: the running server's sweep
            # (jobs/embedded.py) sends the jobs' messages instead.
            summary += (
                "\nembedded mode: the jobs are left queued for the running server (make run), "
                f"which picks them up within {settings.PHOTOPIPE['EMBEDDED_SWEEP_S'] + 2:g} s; "
                "if none is running they start with the next `make run`"
            )
        return summary
