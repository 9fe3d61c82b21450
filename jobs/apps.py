from typing import Any

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Photo jobs"

    def ready(self) -> None:
        # Receivers are connected here, never by import side effects elsewhere.
        from jobs import actors, batch_actors, batches, checks, metrics, receivers  # noqa: F401

        receivers.connect()
        batches.connect()
        metrics.connect()
        metrics.register_state_collector()
        post_migrate.connect(_create_cache_table, sender=self)


def _create_cache_table(using: str = "default", **kwargs: Any) -> None:
    """The database cache (API throttle counters on PostgreSQL) needs its table; migrate makes
    it, so every start script and test database has it. A no-op for other cache backends."""
    call_command("createcachetable", database=using, verbosity=0)
