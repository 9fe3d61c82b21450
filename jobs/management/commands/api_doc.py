"""Writes docs/API.md from the OpenAPI schema, so the route reference cannot drift from the
API (a test compares the committed file with a fresh rendering)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from drf_spectacular.generators import SchemaGenerator

TARGET = Path(settings.BASE_DIR) / "docs" / "API.md"
HEADER = """# API reference

Generated from the OpenAPI schema by `python manage.py api_doc`; do not edit by hand (a test
fails when this file and the schema disagree). The schema itself is served at `/api/schema/`,
with Swagger UI at `/api/docs/` and Redoc at `/api/redoc/` where available. Authentication:
`Authorization: Token <key>` or a session (see the README); `PHOTOPIPE_ANONYMOUS=by-id` opens
uploads and reads by id to anonymous clients.
"""
METHODS = ("get", "post", "put", "patch", "delete")


def render() -> str:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    lines = [HEADER]
    for path, operations in sorted(schema["paths"].items()):
        for method in METHODS:
            operation = operations.get(method)
            if operation is not None:
                lines.extend(_operation(method, path, operation))
    return "\n".join(lines).rstrip() + "\n"


def _operation(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"## `{method.upper()} {path}`", ""]
    summary = (operation.get("description") or operation.get("summary") or "").strip()
    if summary:
        lines += [summary, ""]
    params = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    if params:
        lines.append("Query parameters: " + ", ".join(f"`{p['name']}`" for p in params) + ".")
        lines.append("")
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        lines.append("Request body: " + ", ".join(f"`{kind}`" for kind in body) + ".")
        lines.append("")
    responses = operation.get("responses", {})
    lines.append("| status | meaning |")
    lines.append("| --- | --- |")
    for code, response in sorted(responses.items()):
        text = " ".join((response.get("description") or "").split()) or "-"
        lines.append(f"| {code} | {text} |")
    lines.append("")
    return lines


class Command(BaseCommand):
    help = "Write docs/API.md from the OpenAPI schema (--check: exit 1 if it is out of date)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true")

    def handle(self, *args: Any, check: bool, **options: Any) -> None:
        text = render()
        if check:
            if not TARGET.exists() or TARGET.read_text() != text:
                self.stderr.write("docs/API.md is out of date: run python manage.py api_doc")
                raise SystemExit(1)
            return
        TARGET.write_text(text)
        self.stdout.write(f"wrote {TARGET}")
