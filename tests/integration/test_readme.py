"""The README's curl session runs as written, against what `make run` starts."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_embedded import (  # noqa: F401 - fixtures
    ROOT,
    embedded_env,
    embedded_server,
)

pytestmark = pytest.mark.integration
MARKER = "runs as written"


def runnable_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    return [block for block in blocks if MARKER in "\n".join(block.splitlines()[:3])]


def test_the_readme_has_runnable_sessions():
    blocks = runnable_blocks()
    assert len(blocks) >= 4 and all("curl" in block for block in blocks)
    assert "TOKEN=" in blocks[0]  # the first sets up what the later ones use


def test_the_readme_curl_examples_run_as_written(
    embedded_env, embedded_server, tmp_path: Path  # noqa: F811 - fixtures
):
    """Every marked block, in order, in one shell (later blocks use the first one's $AUTH)."""
    script = "\n".join(runnable_blocks()).replace("http://127.0.0.1:8000", embedded_server)
    # A scratch directory that looks like the checkout (files the examples write, such as
    # result.jpg, land there and not in the repo).
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("testdata", ".venv", "manage.py"):
        (work / name).symlink_to(ROOT / name)
    env = {**embedded_env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=env,
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (work / "result.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG was downloaded
    assert '"completed"' in done.stdout and "204" in done.stdout
    assert not os.path.exists(ROOT / "result.jpg")
