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


def test_the_readme_has_a_runnable_session():
    (session, *_) = runnable_blocks()
    assert "curl" in session and "$AUTH" in session


@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_the_readme_curl_session_runs_as_written(
    index, embedded_env, embedded_server, tmp_path: Path  # noqa: F811 - fixtures
):
    script = runnable_blocks()[index].replace("http://127.0.0.1:8000", embedded_server)
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
