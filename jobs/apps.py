from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Photo jobs"

    def ready(self) -> None:
        # Receivers are connected here, never by import side effects elsewhere.
        from jobs import actors, checks, receivers  # noqa: F401  (declare actors and checks)

        receivers.connect()
