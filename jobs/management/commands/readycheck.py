from django.core.management.base import BaseCommand, CommandError

from photopipe.health import run_checks


class Command(BaseCommand):
    help = (
        "Check the database, broker and storage as /readyz does (the workers' container "
        "healthcheck); exit 1 naming what is failing, with the error."
    )

    def handle(self, *args, **options) -> None:
        checks = run_checks()
        for check in checks:
            state = "ok" if check.ok else "FAILING"
            self.stdout.write(f"{check.name:<9} {state:<8} {check.ms:7.1f} ms  {check.detail}")
        failing = [check.name for check in checks if not check.ok]
        if failing:
            raise CommandError(f"not ready: {', '.join(failing)}")
