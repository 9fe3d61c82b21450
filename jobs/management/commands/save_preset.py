"""Creates or updates a preset from the command line (deployments, scripts, the README); the
admin edits the same rows. Validated as the admin validates (Preset.clean)."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import Preset


class Command(BaseCommand):
    help = "Create or update a preset: named filter steps with an output format."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--steps", default="[]",
            help='JSON, as the API takes them: \'["grayscale", {"name": "blur", "params": '
            '{"radius": 2}}]\', or names: grayscale,sharpen',
        )
        parser.add_argument("--output-format", default="jpeg")
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        text = options["steps"].strip()
        steps = json.loads(text) if text.startswith("[") else [
            name.strip() for name in text.split(",") if name.strip()
        ]
        preset = Preset.objects.filter(name=options["name"]).first() or Preset(
            name=options["name"]
        )
        preset.steps, preset.output_format = steps, options["output_format"]
        preset.description = options["description"]
        try:
            preset.full_clean()
        except ValidationError as error:
            raise CommandError("; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
            )) from None
        preset.save()
        self.stdout.write(f"preset {preset.name}: {json.dumps(preset.steps)} -> "
                          f"{preset.output_format}")
