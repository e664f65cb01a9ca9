"""A one-shot HTTP receiver that captures the OAuth redirect on a loopback address.

When the registered redirect URI is ``http://127.0.0.1:PORT/...`` (or ``localhost``,
``[::1]``), TickTick sends the browser back to this machine after "Allow". The
`LoopbackReceiver` listens there, *before* the browser is opened, and:

* binds only the loopback address of the redirect URI, never a public one; for
  ``localhost`` both ``127.0.0.1`` and ``[::1]`` (a browser may try either first, and
  another program on the one left unbound would receive the code), and refuses to start
  when another program has either;
* answers requests to other paths (``/favicon.ico``, probes) with 404 and keeps waiting;
* on the redirect path, checks ``state``: a wrong one gets an error page and is
  ignored (a forged request cannot end the wait), the right one ends it with the
  ``code`` or the ``error`` TickTick sent;
* answers the browser with a small page (success, or the escaped error) that sends
  no ``Referer`` onwards and is never cached;
* keeps no access log, since request lines carry the code;
* bounds everything: an overall timeout (5 minutes by default); each connection is
  served for at most `CONNECTION_TIMEOUT` seconds in all (one deadline, the same
  mechanism as for HTTP requests); at most `MAX_CONNECTIONS` are served at once, and
  when all are taken the one served longest is cut to make room, so slow or idle
  clients cannot keep the browser's redirect out; the port is freed on every exit
  (success, timeout, Ctrl-C, error).

A port already in use raises [`LoopbackPortInUse`][ticktick.errors.LoopbackPortInUse] at once.
"""

from __future__ import annotations

import errno
import html
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._deadline import CHECK_INTERVAL, Deadline, poll
from .._http.server import LoopbackHTTPServer
from ..endpoints import check_redirect_uri, is_loopback
from ..errors import (
    REDACTED,
    AuthorizationTimeout,
    LoopbackPortInUse,
    StateMismatch,
    argument,
)

__all__ = ["LoopbackReceiver", "RedirectResult", "loopback_address", "loopback_addresses"]

MAX_CONNECTIONS = 16
"""Connections served at once; a new one beyond these cuts the one served longest."""

CONNECTION_TIMEOUT = 10.0
"""Seconds a connection is served in all: reading its request and writing the answer."""


@dataclass(frozen=True)
class RedirectResult:
    """What the browser brought back: a ``code``, or an ``error`` (with its description)."""

    code: str | None = None
    error: str | None = None
    error_description: str | None = None

    def __repr__(self) -> str:
        return f"RedirectResult(code={REDACTED if self.code else None}, error={self.error!r})"


def loopback_address(redirect_uri: str) -> tuple[str, int, str] | None:
    """Return ``(bind address, port, path)`` for a loopback ``http`` redirect URI, else ``None``.

    ``localhost`` binds ``127.0.0.1``; a missing port is 80; an empty path is ``/``.

    Raises:
        ConfigurationError: The URI is malformed, or its port is not 1-65535 (port 0
            would bind a random port, where no redirect can ever arrive).
    """
    check_redirect_uri(redirect_uri)
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or not is_loopback(parts.hostname):
        return None
    assert parts.hostname is not None  # noqa: S101 - is_loopback checked it
    name = parts.hostname.removesuffix(".")  # 'localhost.' is localhost, as in a browser
    address = "127.0.0.1" if name.lower() == "localhost" else name
    return address, parts.port or 80, parts.path or "/"


def loopback_addresses(redirect_uri: str) -> tuple[str, ...]:
    """The addresses the receiver binds for *redirect_uri*, its port the same on each.

    For ``localhost``: ``127.0.0.1`` and ``::1`` (browsers such as Chromium try ``[::1]``
    first, whatever ``/etc/hosts`` says); else the one of `loopback_address`; none for a
    URI that is not an ``http`` loopback one. ``::1`` is skipped where this machine has no
    IPv6 loopback (then no browser reaches it either).
    """
    where = loopback_address(redirect_uri)
    if where is None:
        return ()
    name = (urlsplit(redirect_uri).hostname or "").removesuffix(".").lower()
    return ("127.0.0.1", "::1") if name == "localhost" else (where[0],)


def bind_error(address: str, port: int) -> OSError | None:
    """Why the receiver could not listen on *port* of *address* now; ``None`` if it could.

    The receiver's own server is bound and closed at once, so the answer is the one
    ``login`` will meet (``EADDRINUSE``: another program has it; ``EACCES``: a port
    below 1024; ``EADDRNOTAVAIL``/``EAFNOSUPPORT``: no such loopback on this machine).
    """
    try:
        LoopbackHTTPServer(BaseHTTPRequestHandler, address, port).server_close()
    except OSError as exc:
        return exc
    return None


def missing_loopback(error: OSError) -> bool:
    """Whether *error* (of `bind_error`) means this machine has no such loopback address."""
    return error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 4rem auto;
padding: 0 1rem; color: #222; }} h1 {{ font-size: 1.4rem; }} .bad {{ color: #b00020; }}</style>
</head><body><h1 class="{css}">{title}</h1><p>{message}</p></body></html>
"""


def _page(title: str, message: str, *, ok: bool) -> bytes:
    return _PAGE.format(
        title=html.escape(title), message=html.escape(message), css="" if ok else "bad"
    ).encode()


class _Server(LoopbackHTTPServer):
    request_queue_size = 64  # a burst of connections waits to be accepted, not refused
    receiver: LoopbackReceiver

    def __init__(self, address: str, port: int, max_connections: int) -> None:
        self._max_connections = max_connections
        self._serving: dict[socket.socket, Deadline] = {}
        """The connections being served (and those cut, until their thread ends), oldest
        first, with their deadlines."""
        self._serving_lock = threading.Lock()
        super().__init__(_Handler, address, port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve *request* for `connection_timeout` seconds in all, cutting the oldest if full."""
        deadline = Deadline(self.receiver.connection_timeout, request)
        with self._serving_lock:
            live = [other for other in self._serving.values() if not other.expired]
            if len(live) >= self._max_connections:
                live[0].expire()
            self._serving[request] = deadline
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._serving_lock:
                deadline = self._serving.pop(request, None)
            if deadline is not None:
                deadline.cancel()

    def was_cut(self, request: socket.socket) -> bool:
        """Whether *request*'s connection was cut: what was read of it may be incomplete."""
        with self._serving_lock:
            deadline = self._serving.get(request)
        return deadline is None or deadline.expired

    def server_close(self) -> None:
        """Cut every connection still served, then close (which waits for their threads)."""
        with self._serving_lock:
            serving, self._serving = self._serving, {}
        for deadline in serving.values():
            deadline.expire()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Say nothing: a broken connection must not end, or clutter, the wait."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    disable_nagle_algorithm = True
    server_version = "ticktick-oauth"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Keep no access log: the request line carries the code."""

    def log_error(self, format: str, *args: Any) -> None:
        """Keep no error log either; it may quote the request line."""

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        """Handle the browser's redirect, or anything else that knocks."""
        self.close_connection = True
        if self.server.was_cut(self.connection):
            return  # the deadline passed: the end of the request may be missing
        receiver = self.server.receiver
        parts = urlsplit(self.path)
        fields = parse_qs(parts.query)
        if parts.path != receiver.path or not ("code" in fields or "error" in fields):
            self._answer(404, _page("Not found", "Nothing here.", ok=False))
            return
        try:
            self._answer(*receiver._offer(fields))
        finally:
            # Only now end the wait: ending it first lets close() cut this connection
            # before the browser has its page.
            receiver._settle()

    do_HEAD = do_GET


class LoopbackReceiver:
    """Waits for the OAuth redirect on a loopback port.

    Use it as a context manager: the port is bound on entry (so the browser can be
    opened safely afterwards) and freed on exit, whatever happens.

    Args:
        redirect_uri: The registered redirect URI, e.g. ``http://127.0.0.1:8080/``.
        state: The ``state`` the redirect must carry.
        connection_timeout: Seconds one connection is served in all.
        max_connections: Connections served at once; a new one beyond these cuts the
            one served longest.

    Raises:
        ValueError: *redirect_uri* is not an ``http`` loopback URI.
        LoopbackPortInUse: Another program listens on the port.

    Examples:
        >>> with LoopbackReceiver("http://127.0.0.1:8080/", state) as receiver:  # doctest: +SKIP
        ...     webbrowser.open(authorize_url)
        ...     result = receiver.wait(timeout=300)
    """

    def __init__(
        self,
        redirect_uri: str,
        state: str,
        *,
        connection_timeout: float = CONNECTION_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        where = loopback_address(redirect_uri)
        if where is None:
            raise ValueError(f"{redirect_uri!r} is not an http:// loopback redirect URI")
        self.redirect_uri = redirect_uri
        self.address, self.port, self.path = where
        self.addresses = loopback_addresses(redirect_uri)
        """Every address bound (`loopback_addresses`); `address` is the first."""
        self.state = state
        self.connection_timeout = connection_timeout
        self.max_connections = max_connections
        self._done = threading.Event()
        self._result: RedirectResult | None = None
        self._wrong_state = 0
        self._lock = threading.Lock()
        self._servers: list[_Server] = []

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> LoopbackReceiver:
        """Bind the port (on each of `addresses`) and start answering; return ``self``."""
        servers: list[_Server] = []
        try:
            for address in self.addresses:
                try:
                    servers.append(_Server(address, self.port, self.max_connections))
                except OSError as exc:
                    absent = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
                    if address != self.address and exc.errno in absent:
                        continue  # no IPv6 loopback here: no browser goes there either
                    raise self._port_error(address, exc) from None
        except BaseException:
            for server in servers:
                server.server_close()
            raise
        for server in servers:
            server.receiver = self
            server.start()
        self._servers = servers
        return self

    def _port_error(self, address: str, exc: OSError) -> Exception:
        """The error for *address* that cannot be bound (*exc* itself if not in use)."""
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            return exc
        why = (
            "is in use by another program"
            if exc.errno == errno.EADDRINUSE
            else "cannot be opened by this user"
        )
        both = (
            f" (a browser may take localhost to {address} first: that program would "
            "receive the redirect)"
            if len(self.addresses) > 1
            else ""
        )
        host = f"[{address}]" if ":" in address else address
        return LoopbackPortInUse(
            f"Port {self.port} on {host} {why}{both}, so the redirect to "
            f"{self.redirect_uri} cannot be captured. Stop the program using it "
            f"(find it with 'lsof -i :{self.port}'), or register another loopback "
            "redirect URI for the app (e.g. http://127.0.0.1:8765/) and use that, or "
            "paste the redirected URL instead (--no-capture)."
        )

    def close(self) -> None:
        """Stop answering and free the port. Safe to call more than once."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.stop()

    def __enter__(self) -> LoopbackReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the redirect -------------------------------------------------------------------

    def _offer(self, fields: dict[str, list[str]]) -> tuple[int, bytes]:
        """Take a redirect's query fields; return the status and page to answer with."""
        state = fields.get("state", [""])[0]
        if not secrets.compare_digest(state.encode(), self.state.encode()):
            with self._lock:
                self._wrong_state += 1
            return 400, _page(
                "Authorization not accepted",
                "This redirect does not belong to the sign-in that is waiting (its state "
                "differs). Start the authorization again from the terminal.",
                ok=False,
            )
        with self._lock:
            if self._result is not None:
                return 409, _page("Already done", "This sign-in was already completed.", ok=False)
            error = fields.get("error", [None])[0]
            if error is not None:
                self._result = RedirectResult(
                    error=error, error_description=fields.get("error_description", [None])[0]
                )
            else:
                self._result = RedirectResult(code=fields["code"][0])
        if error is not None:
            return 200, _page(
                "Authorization refused",
                f"TickTick answered: {error}. You can close this tab.",
                ok=False,
            )
        return 200, _page(
            "Authorization complete",
            "You can close this tab and go back to the terminal.",
            ok=True,
        )

    def _settle(self) -> None:
        """End the wait if a redirect was taken (after its page was answered)."""
        if self._result is not None:
            self._done.set()

    @property
    def done(self) -> bool:
        """Whether the redirect has arrived."""
        return self._done.is_set()

    @property
    def result(self) -> RedirectResult | None:
        """The redirect's result, once `done`."""
        return self._result

    def wait(
        self,
        timeout: float,
        *,
        slow_after: float = float("inf"),
        on_slow: Callable[[], object] | None = None,
        on_check: Callable[[], object] | None = None,
    ) -> RedirectResult:
        """Wait for the redirect for at most *timeout* seconds.

        Args:
            timeout: Seconds to wait in all.
            slow_after: Seconds without a redirect after which *on_slow* is called, once
                (`SignOn`'s hint about a redirect URI that is not the registered one).
            on_slow: What to do then.
            on_check: Called at each check, several times a second (`SignOn`'s
                countdown line, `ticktick._deadline.WaitLine.update`).

        Raises:
            AuthorizationTimeout: Nothing arrived in time.
            StateMismatch: Nothing valid arrived in time, but redirects with a wrong
                ``state`` did (a forged request, or an older browser tab).
        """

        def done(wait: float) -> bool:
            if on_check is not None:
                on_check()
            return self._done.wait(wait)

        # Short slices keep Ctrl-C responsive on every platform.
        if not poll(
            done,
            timeout,
            interval=CHECK_INTERVAL,
            slow_after=slow_after,
            on_slow=on_slow,
        ):
            raise self.timeout_error(timeout)
        assert self._result is not None  # noqa: S101 - set before _done
        return self._result

    def timeout_error(self, timeout: float) -> Exception:
        """The error for a wait that ended without a valid redirect."""
        if self._wrong_state:
            return StateMismatch(
                f"Within {timeout:g} s, {self._wrong_state} redirect(s) reached "
                f"{self.redirect_uri} with a state that does not match this sign-in (a forged "
                "request, or a tab from an earlier attempt), and no valid one. Authorize again."
            )
        return AuthorizationTimeout(
            f"No redirect reached {self.redirect_uri} within {timeout:g} s. Authorize again, "
            f"or raise the timeout ({argument('signon_timeout')})."
        )
