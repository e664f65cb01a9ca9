"""An HTTP server on a loopback port, served on a daemon thread: the one start and stop.

The sign-on's loopback receiver (`ticktick.signon.loopback`) and the fake TickTick
(`ticktick.testing.server`) are both a `LoopbackHTTPServer`: bound to a loopback
address only (IPv4 or IPv6), on a given port or a free one, a daemon thread per
connection, served by `LoopbackHTTPServer.start` on a daemon thread, and stopped by
`LoopbackHTTPServer.stop`: the serving loop ends, the port is freed, and the thread
is waited for, within a timeout.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["POLL_INTERVAL", "STOP_TIMEOUT", "LoopbackHTTPServer"]

POLL_INTERVAL = 0.05
"""Seconds between the serving loop's checks for a stop."""

STOP_TIMEOUT = 5.0
"""The longest wait, in seconds, for the serving thread to end once stopped."""


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on a loopback address, started and stopped in one way.

    Every connection is served on a daemon thread, so a client that never hangs up
    cannot keep the process alive.

    Args:
        handler: The request handler class.
        address: A loopback IP address: ``127.0.0.1`` (the default), another of
            127.0.0.0/8, or ``::1``.
        port: The port; 0 (the default) takes a free one (see `port`).

    Raises:
        ValueError: *address* is not a loopback IP address.
        OSError: The port cannot be bound (``EADDRINUSE``: another program has it).
    """

    daemon_threads = True
    allow_reuse_address = sys.platform != "win32"  # on Windows it would allow port theft

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], address: str = "127.0.0.1", port: int = 0
    ) -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError(f"{address!r} is not a loopback address")
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self._thread: threading.Thread | None = None
        super().__init__((address, port), handler)

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return int(self.server_address[1])

    def start(self) -> None:
        """Serve on a daemon thread until `stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"{type(self).__name__} on port {self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop serving and free the port; wait at most *timeout* seconds for the thread.

        The serving loop ends (``shutdown``), the listening socket is closed
        (``server_close``, which a subclass may extend, e.g. to cut the connections
        still served), and the serving thread is joined. Safe to call more than once,
        and on a server never started.
        """
        thread, self._thread = self._thread, None
        if thread is not None:
            self.shutdown()  # only with a serving loop: it waits for the loop to end
        self.server_close()
        if thread is not None:
            thread.join(timeout)
