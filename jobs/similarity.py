"""Near-duplicates: jobs whose perceptual hashes differ from a job's in few bits.

The hash is a signed 64-bit column (jobs/facts.py). No index answers "within N bits" for the
distances clients ask for (8 of 64: splitting the hash into bands and matching one band
exactly, as multi-index hashing does, needs N + 1 bands, each too short to be selective), so
the distance is computed over the caller's visible jobs, in one pass that reads two columns:
- PostgreSQL: in SQL, ``bit_count((phash # target)::bit(64))``; only the matches leave the
  database, ordered by distance.
- SQLite (embedded mode): (id, phash) pairs are read and compared in Python (XOR and
  int.bit_count).
Both are linear in the caller's jobs with a hash and cheap per row (an XOR and a popcount
over an 8-byte column); not measured at 100,000 rows yet. Should that become too slow, the
next step is a BK-tree or multi-index hashing kept beside the table.
"""

from django.db import connection
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from jobs.models import Job


class NotDetectedYet(Exception):
    """The job has no perceptual hash: its detect stage has not run (a 409 in the API)."""


#: The largest distance a client may ask for: over this, unrelated photos match (different
#: photos are 26-38 bits apart, processing/detectors/phash.py).
MAX_DISTANCE = 24
DEFAULT_DISTANCE = 8
# The columns hold signed values; XOR of two negatives is fine, but of mixed signs is negative
# in Python, whose bit_count() would then count the bits of its absolute value.
_MASK_64 = (1 << 64) - 1


def jobs_similar_to(job: Job, candidates: QuerySet[Job], distance: int) -> QuerySet[Job]:
    """``candidates`` within ``distance`` bits of ``job``'s hash (``job`` itself excluded),
    nearest first, each annotated with ``distance``. ``job.phash`` must be set."""
    others = candidates.exclude(pk=job.pk).filter(phash__isnull=False)
    if connection.vendor == "postgresql":
        bits = RawSQL('bit_count(("jobs_job"."phash" # %s)::bit(64))', (job.phash,))
        return (
            others.annotate(distance=bits).filter(distance__lte=distance)
            .order_by("distance", "-created_at")
        )
    near = {
        pk: ((phash ^ job.phash) & _MASK_64).bit_count()
        for pk, phash in others.values_list("pk", "phash").iterator(chunk_size=5000)
    }
    near = {pk: bits for pk, bits in near.items() if bits <= distance}
    return (
        others.filter(pk__in=near)
        .annotate(distance=Case(
            *(When(pk=pk, then=Value(bits)) for pk, bits in near.items()),
            default=Value(0), output_field=IntegerField(),
        ))
        .order_by("distance", "-created_at")
    )
