import uuid

from django.core.management.base import BaseCommand, CommandError

from jobs import retention, services
from jobs.models import IllegalTransition, Job
from jobs.stages import ALL_STAGES


class Command(BaseCommand):
    help = "Re-run jobs through the same service as the API's reprocess action."

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_ids", nargs="+", metavar="JOB_ID")
        parser.add_argument("--from-stage", choices=ALL_STAGES, default=None)

    def handle(self, *args, job_ids: list[str], from_stage: str | None, **options) -> None:
        wanted = {raw: _as_uuid(raw) for raw in job_ids}
        known = set(Job.objects.filter(pk__in=[u for u in wanted.values() if u])
                    .values_list("pk", flat=True))
        unknown = [raw for raw, parsed in wanted.items() if parsed not in known]
        if unknown:
            raise CommandError(f"no such job: {', '.join(unknown)}")
        refused = 0
        for raw, job_id in wanted.items():
            try:
                retention.require_stored_outputs(Job.objects.get(pk=job_id), from_stage)
                services.job_reprocess(job_id=job_id, from_stage=from_stage)
                self.stderr.write(f"{raw}: queued")
            except (IllegalTransition, services.StageNotInPlan) as error:
                refused += 1
                self.stderr.write(f"{raw}: refused: {error}")
        self.stdout.write(f"{len(wanted) - refused} job(s) requeued, {refused} refused")
        if refused:
            raise CommandError(f"{refused} job(s) could not be reprocessed")


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
