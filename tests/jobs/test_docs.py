"""The docs describe the code as it is: a test fails when they drift apart."""

import re
from pathlib import Path

from jobs import stages

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _stage_table_rows() -> list[str]:
    text = (DOCS / "ARCHITECTURE.md").read_text()
    table = text[text.index("| stage | reads |"):].split("\n\n", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", table, flags=re.M)


def test_the_architecture_stage_table_lists_exactly_the_registry_in_plan_order():
    assert _stage_table_rows() == list(stages.ALL_STAGES)


def test_the_architecture_table_says_what_each_stage_writes():
    text = (DOCS / "ARCHITECTURE.md").read_text()
    for stage in stages.STAGES:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{stage.name}` |"))
        for field in stage.writes:
            assert f"`{field}`" in row, (stage.name, field)


def test_the_api_reference_is_generated_from_the_current_schema():
    from jobs.management.commands.api_doc import render

    committed = (DOCS / "API.md").read_text()
    assert committed == render(), "docs/API.md is out of date: run python manage.py api_doc"
