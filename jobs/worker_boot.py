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
        if _runs_stages(worker):
            processing.configure_isolation(max(1, worker.worker_threads))

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        if _runs_stages(worker):
            processing.shutdown_isolation()


def _runs_stages(worker: Any) -> bool:
    """Only a worker that runs stages needs the children (not a delivery worker, which may
    share the process in embedded mode)."""
    listens_to = worker.consumer_whitelist  # None: every queue
    return listens_to is None or bool(listens_to & set(stage_worker_queues()))
