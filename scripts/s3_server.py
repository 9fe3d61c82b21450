"""Local S3 endpoint for development and tests: moto's S3 behind a listener that can be
closed and reopened without losing objects. Started and controlled by scripts/services.sh.

Why not plain `moto_server`: moto keeps every object in this process's memory, so a real
restart empties the bucket and turns "S3 went away and came back" into a data-loss test.
Here SIGUSR1 closes the listening socket and drops open (keep-alive) connections, so clients
get "connection refused" like an outage; SIGUSR2 reopens it with the data intact.
SIGTERM/SIGINT exit.
"""

import argparse
import contextlib
import http.client
import logging
import os
import signal
import socket
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer


class Server(ThreadedWSGIServer):
    """Werkzeug's threaded server that remembers its open connections so it can drop them."""

    def __init__(self, *args, **kwargs):
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self):
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def serve(app, host: str, port: int) -> Server:
    server = Server(host, port, app, handler=MotoRequestHandler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    return server


def create_bucket(host: str, port: int, bucket: str) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("PUT", f"/{bucket}", headers={"Host": f"{host}:{port}"})
    response = conn.getresponse()
    response.read()
    # 409 BucketAlreadyOwnedByYou is not an error here.
    if response.status not in (200, 409):
        sys.exit(f"s3_server: creating bucket {bucket!r} answered HTTP {response.status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args()

    # Request logging per object would dominate the log and slow benchmarks.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # Block the control signals in every thread; the main thread takes them with sigwait.
    control = {signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, control)

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto_server does: errors come back as responses, not a dead thread
    server: Server | None = serve(app, args.host, args.port)
    for bucket in args.bucket:
        create_bucket(args.host, args.port, bucket)
    print(f"s3_server: serving on http://{args.host}:{args.port}", file=sys.stderr, flush=True)

    while True:
        sig = signal.sigwait(control)
        if sig == signal.SIGUSR1 and server is not None:
            server.shutdown()
            server.server_close()
            server.drop_connections()
            server = None
            print("s3_server: offline (listener closed, data kept)", file=sys.stderr, flush=True)
        elif sig == signal.SIGUSR2 and server is None:
            server = serve(app, args.host, args.port)
            print("s3_server: online again", file=sys.stderr, flush=True)
        elif sig in (signal.SIGTERM, signal.SIGINT):
            # Nothing to flush (the store is memory); skip a slow interpreter teardown.
            sys.stderr.flush()
            os._exit(0)


if __name__ == "__main__":
    main()
