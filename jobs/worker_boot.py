"""Dramatiq middleware run in every worker process: start the filter children at boot.

Heavy filter plans run in child processes (processing.run_filters) so they can be killed; a
worker starts its pool once, at boot, instead of making its first heavy job wait ~1 s.
"""

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

import processing


class FilterIsolation(Middleware):
    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        processing.configure_isolation(max(1, worker.worker_threads))

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        processing.shutdown_isolation()
