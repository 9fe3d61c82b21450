"""Small helpers the test packages share."""

import io

from jobs import runner
from jobs.models import Job


def upload_file(data: bytes, name: str = "astronaut.png") -> io.BytesIO:
    """An in-memory file with a name, as a client uploads it (multipart takes the name)."""
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def run_all_stages(job: Job | object) -> Job:
    """Run every stage of a job's plan in this process, in order; the job as it ends."""
    job = job if isinstance(job, Job) else Job.objects.get(pk=job)
    for stage in job.plan:
        runner.run_stage(str(job.pk), stage)
    return Job.objects.get(pk=job.pk)
