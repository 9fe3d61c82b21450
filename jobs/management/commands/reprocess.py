from django.core.management.base import BaseCommand, CommandError

from jobs import services
from jobs.models import IllegalTransition, Job
from jobs.stages import ALL_STAGES


class Command(BaseCommand):
    help = "Re-run jobs through the same service as the API's reprocess action."

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_ids", nargs="+", metavar="JOB_ID")
        parser.add_argument("--from-stage", choices=ALL_STAGES, default=None)

    def handle(self, *args, job_ids: list[str], from_stage: str | None, **options) -> None:
        known = {str(pk) for pk in Job.objects.filter(pk__in=_valid_uuids(job_ids))
                 .values_list("pk", flat=True)}
        unknown = [job_id for job_id in job_ids if job_id not in known]
        if unknown:
            raise CommandError(f"no such job: {', '.join(unknown)}")
        failures = 0
        for job_id in job_ids:
            try:
                services.job_reprocess(job_id=job_id, from_stage=from_stage)
                self.stderr.write(f"{job_id}: queued")
            except (IllegalTransition, services.StageNotInPlan) as error:
                failures += 1
                self.stderr.write(f"{job_id}: refused: {error}")
        self.stdout.write(f"{len(job_ids) - failures} job(s) requeued, {failures} refused")
        if failures:
            raise CommandError(f"{failures} job(s) could not be reprocessed")


def _valid_uuids(values: list[str]) -> list[str]:
    import uuid

    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid
