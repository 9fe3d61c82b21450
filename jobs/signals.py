"""Signals Photopipe sends. Declarations only; receivers live in jobs/receivers.py.

Both are sent on commit, from whichever process finished the job (usually a worker), with
``sender=Job`` and ``job=<Job>``.
"""

from django.dispatch import Signal

#: A job completed: its result and detections are stored.
job_finished = Signal()

#: A job failed for good: ``job.stage`` and ``job.error`` say where and why.
job_failed = Signal()
