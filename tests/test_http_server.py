"""The one background-server helper of the loopback receiver and the fake TickTick."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from ticktick._http.server import LoopbackHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_it_serves_on_a_free_port_until_stopped_and_frees_the_port() -> None:
    server = LoopbackHTTPServer(Hello)
    server.start()
    port = server.port
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "hello"
    server.stop()
    server.stop()  # a second stop does nothing
    assert not [t for t in threading.enumerate() if t.name.endswith(f"on port {port}")]
    with socket.socket() as again:  # the port is free: nothing listens there any more
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()


def test_a_server_never_started_stops_at_once() -> None:
    server = LoopbackHTTPServer(Hello)
    server.stop()  # shutdown() would wait forever for a loop that never ran
    assert server.socket.fileno() == -1


@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.1", "::"])  # noqa: S104
def test_only_a_loopback_address_is_bound(address: str) -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        LoopbackHTTPServer(Hello, address)
