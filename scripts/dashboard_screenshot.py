"""Look at the live dashboard in a real browser: start an embedded server on a fresh database,
put jobs in every state, log in with headless Chromium (Debian's `chromium`), check that the
page updates itself without a reload, and save a screenshot.

    .venv/bin/python scripts/dashboard_screenshot.py /tmp/dashboard.png

Nothing is left behind: the database, media, browser profile and server live in a temporary
folder removed at the end. Chromium is driven over its DevTools protocol (websocket-client).
"""

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
SERVICE_VARIABLES = ("DATABASE_URL", "RABBITMQ_URL", "AWS_STORAGE_BUCKET_NAME",
                     "AWS_S3_ENDPOINT_URL", "DJANGO_SETTINGS_MODULE")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--remote-debugging-port=0", "--window-size=1440,1000", "--hide-scrollbars",
]
# Seconds of CPU per job (non-local means, the widest search, ~4 s on a 1024 px photo): the
# busy jobs stay processing and queued long enough for the dashboard's 3 s polling to show
# them, however fast or loaded the machine is.
HEAVY = json.dumps([{"name": "denoise", "params": {"search": 35}}])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def embedded_server(workdir: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """(base URL, environment, staff password) of a `run_embedded` on a fresh database."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
               MEDIA_ROOT=str(workdir / "media"), PYTHONUNBUFFERED="1", DJANGO_DEBUG="0",
               DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
               # The same photos are uploaded again to fill every state: reusing the finished
               # result (dedupe) would complete them at once instead of queueing them.
               PHOTOPIPE_DEDUPE="0")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    password = secrets.token_urlsafe(12)
    subprocess.run([*manage, "shell", "-c", (
        "from django.contrib.auth.models import User; "
        f"User.objects.create_superuser('ops', 'ops@example.com', '{password}')"
    )], cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([*manage, "run_embedded", f"127.0.0.1:{port}"], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "server.log").read_text()[-3000:])
            try:
                requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        yield base, env, password
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


class Jobs:
    """Uploads through the API as the staff user (token made with drf_create_token)."""

    def __init__(self, base: str, env: dict[str, str]) -> None:
        made = subprocess.run([sys.executable, "manage.py", "drf_create_token", "ops"], cwd=ROOT,
                              env=env, check=True, capture_output=True, text=True)
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {made.stdout.split()[2]}"

    def upload(self, name: str, data: bytes | None = None, **fields: str) -> dict[str, Any]:
        data = data if data is not None else (TESTDATA / name).read_bytes()
        answer = self.session.post(f"{self.base}/api/v1/jobs/", files={"file": (name, data)},
                                   data=fields, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def cancel(self, job: dict[str, Any]) -> None:
        self.session.post(f"{self.base}/api/v1/jobs/{job['id']}/cancel/", timeout=30)

    def status(self, job: dict[str, Any]) -> str:
        return self.session.get(f"{self.base}/api/v1/jobs/{job['id']}/", timeout=30).json()[
            "status"]

    def every_state(self) -> None:
        """Completed, failed (damaged pixel data) and cancelled jobs."""
        done = [self.upload(name) for name in ("astronaut.png", "chelsea.png", "coffee.png",
                                               "rocket.jpg", "motorcycle_left.png")]
        # Its header is intact (the upload's probe accepts it), its pixel data is not: the
        # resize stage fails it.
        broken = bytearray((TESTDATA / "chelsea.png").read_bytes())
        middle = len(broken) // 2
        broken[middle:middle + 2000] = bytes(range(250)) * 8
        self.upload("broken.png", bytes(broken))
        deadline = time.monotonic() + 90
        while any(self.status(job) in ("queued", "processing") for job in done):
            if time.monotonic() > deadline:
                raise TimeoutError("jobs did not finish")
            time.sleep(0.5)
        self.cancel(self.upload("coffee.png", steps=HEAVY))

    def busy(self) -> None:
        """Heavy filter jobs keep the embedded server's two threads busy for seconds: they
        and the ones behind them are processing, the last uploads still queued."""
        for name in ("page.png", "arithmetic.jpg", "astronaut.png", "chelsea.png") * 3:
            self.upload(name, steps=HEAVY)
        time.sleep(1.5)  # both worker threads now in a filter: what comes next waits
        for name in ("rocket.jpg", "coffee.png"):
            self.upload(name)


class Chromium:
    """Headless Chromium with a fresh profile, driven over the DevTools protocol."""

    def __init__(self, profile: Path) -> None:
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise RuntimeError("needs Debian's chromium: apt-get install chromium")
        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for line in self.process.stderr:
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                break
        else:
            raise RuntimeError("chromium did not start")
        port = match.group(1).split(":")[2].split("/")[0]
        page = next(t for t in requests.get(f"http://127.0.0.1:{port}/json/list",
                                            timeout=5).json() if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self._id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def wait_for(self, condition: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"!!({condition})"):
            if time.monotonic() > deadline:
                raise TimeoutError(condition)
            time.sleep(0.2)

    def screenshot(self, path: Path, width: int = 1440) -> None:
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        time.sleep(0.5)  # the charts redraw at the new width only on their next refresh
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def _completed_count(browser: Chromium) -> int:
    return int(browser.evaluate(
        "Number(document.querySelector('#panels .badge.completed')"
        ".closest('tr').querySelector('td.num').textContent)"
    ))


def take(out: Path) -> dict[str, Any]:
    """Run it all; returns what was checked (for the test and the printout)."""
    with tempfile.TemporaryDirectory(prefix="photopipe-dashboard-") as tmp:
        workdir = Path(tmp)
        with embedded_server(workdir) as (base, env, password):
            jobs = Jobs(base, env)
            jobs.every_state()
            browser = Chromium(workdir / "profile")
            try:
                browser.goto(f"{base}/admin/login/?next=/dashboard/")
                browser.evaluate(
                    f"document.getElementById('id_username').value = 'ops';"
                    f"document.getElementById('id_password').value = '{password}';"
                    "document.querySelector('#login-form').submit()"
                )
                browser.wait_for("location.pathname === '/dashboard/' && "
                                 "document.readyState === 'complete'")
                browser.wait_for("document.querySelector('#throughput-chart canvas')")
                before = _completed_count(browser)
                jobs.upload("chelsea.png")  # completes in about a second
                # No reload: htmx swaps the panels in every 3 s.
                browser.wait_for(f"Number(document.querySelector('#panels .badge.completed')"
                                 f".closest('tr').querySelector('td.num').textContent) > {before}",
                                 timeout=30)
                after = _completed_count(browser)
                navigations = browser.evaluate("performance.getEntriesByType('navigation')"
                                               ".length")
                jobs.busy()
                browser.wait_for(" && ".join(
                    f"document.querySelector('#panels .badge.{status}').closest('tr')"
                    ".querySelector('td.num').textContent !== '0'"
                    for status in ("queued", "processing")
                ), timeout=30)
                browser.screenshot(out)
                return {"screenshot": str(out), "completed_before": before,
                        "completed_after": after, "navigations": navigations}
            finally:
                browser.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/dashboard.png")
    print(json.dumps(take(target), indent=2))
