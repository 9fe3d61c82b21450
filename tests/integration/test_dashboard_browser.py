"""The dashboard in a real browser (headless Chromium): it logs in, shows jobs in every state
and updates itself without a reload (scripts/dashboard_screenshot.py)."""

import shutil
import struct

import pytest

from scripts.dashboard_screenshot import take

pytestmark = pytest.mark.integration


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="needs Debian's chromium (apt-get install chromium)")
def test_the_dashboard_updates_itself_in_a_browser(tmp_path):
    shot = tmp_path / "dashboard.png"
    seen = take(shot)
    assert seen["completed_after"] > seen["completed_before"]  # swapped in by htmx
    assert seen["navigations"] == 1  # no reload
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width == 1440 and height > 900
