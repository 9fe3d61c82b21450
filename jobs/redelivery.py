"""A redelivered message of a finished stage re-sends the next stage's message.

RabbitMQ redelivers a message whose ack never arrived: its worker died, or RabbitMQ went away
(a restart) before the ack. In the second case the stage may have finished while RabbitMQ was
down, so the next stage's message, published after the commit, was refused and nothing is
left to carry the job on: without this the job would wait for the reaper
(PHOTOPIPE_REAPER_TIMEOUT_S, ten minutes by default). A duplicate is harmless: stage_claim runs
a stage once.
"""

import logging

from dramatiq.middleware import CurrentMessage

from jobs.models import Job, StageRun
from jobs.queueing import send_on_commit
from jobs.stages import next_stage

logger = logging.getLogger(__name__)


def is_redelivery() -> bool:
    """The message being processed was delivered before (RabbitMQ's redelivered flag)."""
    return bool(getattr(CurrentMessage.get_current_message(), "redelivered", False))


def resend_next_stage(job_id: str, stage: str) -> bool:
    """Re-send the stage after ``stage`` if the job waits there and it has not started."""
    job = Job.objects.filter(pk=job_id, status__in=Job.ACTIVE).first()
    if job is None or stage not in job.plan or job.stage != next_stage(job.plan, stage):
        return False
    if StageRun.objects.filter(job=job, run=job.run, stage=job.stage).exists():
        return False  # its message arrived: it is running or has run
    send_on_commit(job.stage, str(job.id))  # outside a transaction: sent now
    logger.warning("job %s: %s redelivered after it finished; re-sent %s", job_id, stage, job.stage)
    return True
