"""The number of SQL statements per upload and per stage, pinned so it cannot grow back.

Every statement costs the worker CPU in the ORM and the driver, and a round trip to the
database (docs/PERFORMANCE.md, "Cuts, second round"). Counted on SQLite, where BEGIN and
COMMIT are statements too; transaction=True so commits and on-commit work really happen.
"""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import runner
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

SUBMIT = 1  # INSERT job (autocommit: no transaction of its own, services.job_submit)
# Per stage: the claim (BEGIN, SELECT job FOR UPDATE, SELECT the run's attempts, UPDATE job,
# INSERT attempt, COMMIT) and the completion (BEGIN, SELECT job and attempt FOR UPDATE,
# UPDATE attempt, UPDATE job, COMMIT). The last stage adds the batch check after the commit.
PER_STAGE = {"resize": 12, "watermark": 12, "detect": 13}
API_UPLOAD = 4  # statements of an upload, backend-neutral (the test says which)


def test_statements_per_upload_and_per_stage(submit: Any) -> None:
    with CaptureQueriesContext(connection) as captured:
        job = submit()
    assert len(captured) == SUBMIT, [query["sql"] for query in captured]
    counts = {}
    for stage in job.plan:
        with CaptureQueriesContext(connection) as captured:
            runner.run_stage(str(job.pk), stage)
        counts[stage] = len(captured)
    assert counts == PER_STAGE
    assert Job.objects.get(pk=job.pk).status == Job.Status.COMPLETED


def test_an_upload_through_the_api_does_not_read_its_job_back(
    api: Any, image_bytes: Any
) -> None:
    upload = SimpleUploadedFile("astronaut.png", image_bytes("astronaut.png"))
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/jobs/", {"file": upload}, format="multipart")
    assert response.status_code == 202
    assert response.json()["timeline"] == []
    # The token, the quota (two aggregates), the INSERT: the 202 body is made from the job just
    # created, not from a read-back (which was a SELECT and a prefetch more). Throttle counters
    # (a cache table on PostgreSQL) and transaction control differ by backend: not counted.
    statements = [
        query["sql"] for query in captured
        if "photopipe_cache" not in query["sql"]
        and query["sql"].split()[0] not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}
    ]
    assert len(statements) == API_UPLOAD, [sql[:60] for sql in statements]
