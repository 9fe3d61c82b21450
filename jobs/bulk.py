"""Reprocessing one selected job at a time, for `manage.py reprocess`: through the same
services as the API and the admin, with a dry run that is the real thing rolled back."""

from dataclasses import dataclass
from uuid import UUID

from django.db import transaction

from jobs import services
from jobs.models import IllegalTransition, Job, ReprocessRefused

REQUEUED, RESTARTED, REFUSED = "requeued", "restarted", "refused"


@dataclass(frozen=True)
class Outcome:
    job_id: UUID
    action: str  # REQUEUED, RESTARTED or REFUSED
    detail: str  # where it starts again, or why not


class _DryRun(Exception):
    """Raised inside the transaction to undo a dry run's changes (and its unsent message)."""


def reprocess_one(
    job_id: UUID, *, from_stage: str | None, restart_active: bool, dry_run: bool
) -> Outcome:
    """Requeue a finished job (from ``from_stage``), or, with ``restart_active``, cancel a job
    stuck queued or processing and run it again from its first stage.

    A dry run of a requeue runs the service inside a transaction that is rolled back, so it
    refuses exactly what the real run would (a running job, a stage outside the plan, a
    deleted earlier output) and sends nothing. A stuck job's restart is only described: the
    cancel deletes intermediates from storage, which no rollback would bring back.
    """
    job = Job.objects.filter(pk=job_id).only("status", "stage", "steps").first()
    if job is None:
        return Outcome(job_id, REFUSED, "deleted meanwhile")
    if job.is_active and restart_active:
        first = job.plan[0]
        if from_stage not in (None, first):
            return Outcome(job_id, REFUSED, f"a stuck job restarts from its first stage "
                                            f"({first}): its intermediates are deleted on cancel")
        if not dry_run:
            with transaction.atomic():
                services.job_cancel(job_id=job_id)
                services.job_reprocess(job_id=job_id)
        return Outcome(job_id, RESTARTED, f"was {job.status} at {job.stage}; from {first}")
    try:
        with transaction.atomic():
            requeued = services.job_reprocess(job_id=job_id, from_stage=from_stage)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except (IllegalTransition, ReprocessRefused) as error:
        return Outcome(job_id, REFUSED, str(error))
    return Outcome(job_id, REQUEUED, f"from {requeued.stage}")
