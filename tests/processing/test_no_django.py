"""processing/ must stay a pure library: importing it loads no web, broker or storage code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Django and its apps, the database driver, the broker, storage, and the platform's own packages.
FORBIDDEN = {
    "django", "rest_framework", "psycopg2", "dramatiq", "django_dramatiq", "pika", "boto3",
    "botocore", "storages", "photopipe", "jobs",
}

CHECK = f"""
import sys
import processing
import processing.pipeline, processing.detect
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(FORBIDDEN)!r}))
assert not loaded, f"processing imported {{loaded}}"
print("clean")
"""


def test_importing_processing_loads_no_django_broker_or_storage() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "PYTHONPATH": str(ROOT),
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_no_module_in_processing_mentions_django() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "processing").rglob("*.py")
        if any(
            f"import {name}" in line or f"from {name}" in line
            for line in path.read_text().splitlines()
            for name in FORBIDDEN
        )
    ]
    assert offenders == []
