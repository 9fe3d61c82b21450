"""The reaper's sweeps: nothing accepted is lost to a crash between a commit and a publish.

Both re-send messages and nothing else; duplicates are harmless because stage_claim makes
stages idempotent and subscribers are told events arrive at least once.
"""

import logging
from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs import stages
from jobs.events import event_payload
from jobs.models import Job
from jobs.queueing import send_on_commit

logger = logging.getLogger(__name__)


def jobs_resume_stuck(
    *, older_than: timedelta, skip: Collection[str] = frozenset()
) -> list[str]:
    """Re-send the current stage of active jobs untouched for ``older_than``, except the job
    ids in ``skip`` (embedded mode: the jobs its own broker still holds a message for).

    Covers a crash between the commit and the publish, a lost message, a restart of the
    embedded mode, and jobs another process queued beside it.
    """
    cutoff = timezone.now() - older_than
    resumed = []
    for job_id, stage in Job.objects.filter(
        status__in=Job.ACTIVE, updated_at__lte=cutoff
    ).values_list("id", "stage").iterator():
        if stage not in stages.BY_NAME or str(job_id) in skip:
            continue
        with transaction.atomic():
            # Touch the row so the next sweep waits a full timeout again.
            Job.objects.filter(pk=job_id).update(updated_at=timezone.now())
            send_on_commit(stage, str(job_id))
        resumed.append(str(job_id))
    if resumed:
        logger.warning("resumed %d stuck job(s)", len(resumed))
    return resumed


def jobs_rebroadcast_unnotified(*, older_than: timedelta) -> list[str]:
    """Re-send completion events that never reached RabbitMQ (it refused both the publish and
    the retrying fallback). Nothing to do in embedded mode, which has no RabbitMQ."""
    if not settings.RABBITMQ_URL:
        return []
    cutoff = timezone.now() - older_than
    resent = []
    for job in Job.objects.filter(
        status__in=Job.ANNOUNCED, notified_at__isnull=True, updated_at__lte=cutoff
    ):
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(updated_at=timezone.now())
            send_on_commit("publish_processed_event", event_payload(job))
        resent.append(str(job.pk))
    if resent:
        logger.warning("re-sent %d completion event(s)", len(resent))
    return resent
