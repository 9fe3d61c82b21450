"""A real local HTTP(S) webhook receiver for tests: records what arrives, answers as told."""

import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers every POST with ``status``; or redirects (``redirect=302``, Location on itself),
    or drips its answer one byte every ``drip_every`` seconds (``drip_every=2.0``)."""

    def __init__(
        self, host: str = "127.0.0.1", *, status: int = 204, redirect: int | None = None,
        drip_every: float | None = None, tls: ssl.SSLContext | None = None,
    ) -> None:
        self.received: list[Received] = []
        self.status, self.redirect, self.drip_every = status, redirect, drip_every
        self.closing = threading.Event()
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers), body))
                if receiver.drip_every is not None:
                    self._drip(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + b"X-Pad: x\r\n" * 50)
                    return
                if receiver.redirect is not None:
                    self.send_response(receiver.redirect)
                    self.send_header("Location", receiver.url("/followed"))
                else:
                    self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _drip(self, answer: bytes) -> None:
                try:
                    for byte in answer:
                        if receiver.closing.wait(receiver.drip_every):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    return  # the client hung up: what a deadline is for
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        return Handler
