"""Hostile servers on raw sockets, independent of the project's own fake TickTick.

The fake server (``ticktick.testing``) is written by the same hands as the client,
so it behaves as the client expects. These servers do what a broken or malicious
server does instead: trickle a status line byte by byte, send ``100 Continue``
forever, echo every secret they were sent, lie about the charset, drop the
connection. Each one is a plain ``socket`` listener on 127.0.0.1 whose behaviour is
a function of one accepted connection::

    def trickle(conn: Connection) -> None:
        conn.read_request()
        conn.trickle(b"HTTP/1.1 200 OK\\r\\n", every=1.0)

    with HostileServer(trickle) as server:
        OAuth2(..., host=server.url)

Every server stops by itself: `close` (the context manager's exit) shuts down the
listener and every open connection, and each `Connection` helper gives up once the
server is closed, so no test can be held by its own server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qs


@dataclass
class Request:
    """One HTTP request as read off the wire."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    raw: bytes

    @property
    def form(self) -> dict[str, str]:
        """The body as a form (``application/x-www-form-urlencoded``)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("latin-1")).items()}


class ServerClosed(Exception):
    """The hostile server was closed while a connection handler was still at work."""


@dataclass
class Connection:
    """One accepted connection, with helpers a handler uses to misbehave."""

    sock: socket.socket
    server: HostileServer
    buffer: bytes = b""

    def _check(self) -> None:
        if self.server.closed.is_set():
            raise ServerClosed

    def read_request(self, timeout: float = 10.0) -> Request:
        """Read one request: line, headers and a ``Content-Length`` body."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer:
            self._recv(deadline)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(self.buffer) < length:
            self._recv(deadline)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        request = Request(method, target, headers, body, head + b"\r\n\r\n" + body)
        self.server.requests.append(request)
        return request

    def _recv(self, deadline: float) -> None:
        self._check()
        self.sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise
            return
        if not chunk:
            raise ConnectionError("the client closed the connection")
        self.buffer += chunk

    def send(self, data: bytes) -> None:
        """Send *data* at once."""
        self._check()
        self.sock.sendall(data)

    def trickle(self, data: bytes, every: float, *, forever: bool = False) -> None:
        """Send *data* one byte at a time, one byte every *every* seconds.

        With *forever*, start over with *data* when it is all sent, until the client
        hangs up or the server is closed.
        """
        while True:
            for byte in data:
                self.send(bytes([byte]))
                if self.server.closed.wait(every):
                    raise ServerClosed
            if not forever:
                return

    def repeat(self, data: bytes, every: float) -> None:
        """Send *data* whole, again every *every* seconds, until the client hangs up or
        the server is closed (e.g. ``HTTP/1.1 100 Continue`` forever)."""
        while True:
            self.send(data)
            if self.server.closed.wait(every):
                raise ServerClosed

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        reason: str = "Whatever",
    ) -> None:
        """Send a whole response with a ``Content-Length``."""
        lines = [f"HTTP/1.1 {status} {reason}"]
        all_headers = {"Content-Length": str(len(body)), "Connection": "close"}
        all_headers.update(headers or {})
        lines += [f"{name}: {value}" for name, value in all_headers.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def hold(self, seconds: float = 3600.0) -> None:
        """Keep the connection open, sending nothing, until the server is closed."""
        self.server.closed.wait(seconds)


Handler = Callable[[Connection], None]


def answering(
    status: int, body: bytes, headers: dict[str, str], *, keep_alive: bool = False
) -> Handler:
    """A handler giving the same answer to every request; *keep_alive* keeps the
    connection open for the next one (by default each answer says ``Connection: close``)."""
    sent = {"Connection": "keep-alive", **headers} if keep_alive else headers

    def handler(conn: Connection) -> None:
        while True:
            conn.read_request()
            conn.respond(status, body, sent)

    return handler


@dataclass
class HostileServer:
    """A listener on 127.0.0.1 that runs *handler* for each connection, in a thread."""

    handler: Handler
    requests: list[Request] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    connections: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._open.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self.handler(Connection(sock, self))
        except (OSError, ServerClosed, ValueError):
            pass  # the client hung up, or the server is closing: both are expected here
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        """Stop accepting, cut every open connection, and wait for the handlers."""
        self.closed.set()
        self._listener.close()
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
