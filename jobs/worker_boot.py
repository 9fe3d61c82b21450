"""Dramatiq middleware run in every worker process: start the filter children at boot.

Heavy filter plans run in child processes (processing.run_filters) so they can be killed; a
worker starts its pool once, at boot, instead of making its first heavy job wait ~1 s.
"""

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

import processing
from jobs.queues import stage_worker_queues


class FilterIsolation(Middleware):
    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        # Only a worker that runs stages needs children (not a delivery worker).
        if worker.queues is None or set(worker.queues) & set(stage_worker_queues()):
            processing.configure_isolation(max(1, worker.worker_threads))

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        processing.shutdown_isolation()
