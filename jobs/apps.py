from django.apps import AppConfig
from django.core import checks


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Photo jobs"

    def ready(self) -> None:
        # Receivers are connected here, never by import side effects elsewhere.
        from jobs import actors, receivers, webhooks  # noqa: F401  (actors: declare them)

        receivers.connect()
        checks.register(webhooks.check_settings)
