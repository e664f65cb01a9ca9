"""One deadline mechanism for every blocking exchange on a socket.

A socket timeout bounds each wait for data, not the whole exchange: a server that
sends one byte a second, or ``HTTP/1.1 100 Continue`` every second, never trips it.
A `Deadline` bounds the total. When it passes, one shared watchdog thread shuts the
socket down (``shutdown(SHUT_RDWR)``), so whatever is blocked on it (a ``recv``
of a status line, a header, a body, a TLS handshake, or a ``send``) returns at once
and the caller raises a timeout. Cancelling a deadline is cheap; the watchdog
thread is started on first use and shared by all.

Used by the HTTP client (``ticktick._http.session``) and by the loopback receiver
(``ticktick.signon.loopback``).

**The guarantee, for each HTTP request sent through this package's adapter** (the
token request, every `OpenAPI` call, and every request through a session made by
``requests_retry_session``, such as ``OAuth2.session``), with ``timeout=(connect, read)``
(a single number is both):

* Connecting (TCP connect, a proxy's ``CONNECT`` tunnel and the TLS handshake)
  takes at most *connect* seconds in all; it ends with ``requests.ConnectTimeout``
  and counts as never sent. Name resolution is the system resolver's, and a name
  with several addresses gets *connect* seconds for each address's TCP connect.
* Sending the request is bounded by the socket timeout, for the whole send.
* The whole answer (the status line, any number of ``1xx`` interim answers, the
  headers and the body) arrives within *read* seconds **in all**, counted from when
  the request was sent. Otherwise the attempt ends with ``requests.ReadTimeout``;
  in a body read by ``requests`` itself (not `read_body`, which `OpenAPI` and the
  token request use) the cut shows as a broken-off body, or as a short body when
  the answer has neither a length nor chunks.
* Slack: the watchdog cuts the socket within milliseconds of the due time (one
  thread, woken by a condition variable; measured 1-9 ms over a trickling server),
  and the call then returns at once. Allow 1 s on a loaded machine.
* A request that is retried gets this bound for each attempt, plus the retry
  waits: the token request is retried only when it was never sent or answered
  429/503 (3 attempts at most); a session's idempotent requests get up to
  ``retries + 1`` attempts with backoff. ``Retry-After`` waits are capped (60 s by
  default).
* Not covered: a session of the caller's own without this adapter, and SOCKS
  proxies, where only the socket timeouts and `read_body`'s deadline (the read
  timeout for the body) apply.
* ``timeout`` values that could wait forever (``None``, ``nan``, ``inf``, 0 or
  less, more than a day) are refused with ``ConfigurationError`` by ``OAuth2``,
  ``OpenAPI`` and ``requests_retry_session`` (``check_timeout``).

The loopback receiver serves each connection for 10 s in all (``CONNECTION_TIMEOUT``),
and when its 16 slots are taken, the connection served longest is cut to make room.

**Waiting for another party** (a lock held by another process, a line a person types)
is the other kind of wait: nothing is cut, the waiter looks again and again until a
`Countdown` runs out. `poll` is the one loop that does it, used by every lock
(``ticktick.stores.locks``) and by the terminal prompt (``ticktick.signon.terminal``).
On a terminal, such a wait says what it waits for and the time left in one line
updated in place, `WaitLine` (the browser's redirect, a lock held by another process).
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["CHECK_INTERVAL", "Countdown", "Deadline", "WaitLine", "poll"]

CHECK_INTERVAL = 0.2
"""Seconds between looks of a wait for a person (a typed line, the browser's redirect):
short enough that Ctrl-C and a cancellation are seen at once."""


class Deadline:
    """A time limit for blocking I/O on one socket: when due, the socket is shut down.

    The deadline keeps its own duplicate of the socket's descriptor until it fires or
    is cancelled, so it still reaches a socket that TLS wrapping took over, and never
    touches a descriptor number that was closed and reused meanwhile. The socket may
    be given later with `attach` (once a connection exists); if the deadline has
    passed by then, it is shut down at once.

    Args:
        seconds: Seconds from now until the deadline.
        sock: The socket to shut down when it passes, if already known.
    """

    __slots__ = ("_pending", "_sock", "due", "expired", "seconds")

    def __init__(self, seconds: float, sock: socket.socket | None = None) -> None:
        self.seconds = seconds
        self.due = time.monotonic() + seconds
        self._sock: socket.socket | None = None
        self._pending = True
        self.expired = False
        """Whether the deadline passed (or `expire` was called) before `cancel`."""
        if sock is not None:
            self.attach(sock)
        _WATCHDOG.add(self)

    def attach(self, sock: socket.socket) -> None:
        """Watch *sock* (instead of any earlier one); shut it down now if already expired.

        A socket already closed is ignored: nothing can be blocked on it.
        """
        if sock.fileno() < 0:
            return
        copy = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with _WATCHDOG.condition:
            old, self._sock = self._sock, copy
            if not self._pending:
                self._release()
        if old is not None:
            old.close()

    def cancel(self) -> None:
        """Disarm the deadline: once this returns, it never fires."""
        with _WATCHDOG.condition:
            if self._pending:
                self._pending = False
                _WATCHDOG.cancelled += 1
            self._release()

    def expire(self) -> None:
        """Fire the deadline now, unless it has fired or been cancelled already."""
        with _WATCHDOG.condition:
            if self._pending:
                _WATCHDOG.cancelled += 1  # its entry stays in the heap, now inert
            self._fire()

    def _fire(self) -> None:
        """Shut the socket down; called with the watchdog's lock held."""
        if self._pending:
            self._pending = False
            self.expired = True
            self._release()

    def _release(self) -> None:
        """Shut the socket down if expired, and drop the copy; with the lock held."""
        sock, self._sock = self._sock, None
        if sock is not None:
            if self.expired:
                with contextlib.suppress(OSError):  # the other end may be gone already
                    sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _Watchdog:
    """One thread that fires deadlines when they come due.

    Deadlines are kept in a heap by due time; cancelled ones are dropped when they
    reach the top, or all at once when they are more than half the heap. Firing
    happens with the lock held, so `Deadline.cancel` is final.
    """

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._count = 0
        self.cancelled = 0
        """Cancelled deadlines still in the heap."""
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        """Start afresh in a forked child, which has neither the thread nor its lock."""
        self.condition = threading.Condition()
        self._heap = []
        self.cancelled = 0
        self._thread = None

    def add(self, deadline: Deadline) -> None:
        with self.condition:
            if self.cancelled > 1000 and 2 * self.cancelled > len(self._heap):
                self._heap = [entry for entry in self._heap if entry[2]._pending]
                heapq.heapify(self._heap)
                self.cancelled = 0
            self._count += 1
            earliest = not self._heap or deadline.due < self._heap[0][0]
            heapq.heappush(self._heap, (deadline.due, self._count, deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ticktick-deadlines", daemon=True
                )
                self._thread.start()
            elif earliest:
                self.condition.notify()

    def _run(self) -> None:
        with self.condition:
            while True:
                while self._heap and not self._heap[0][2]._pending:
                    heapq.heappop(self._heap)
                    self.cancelled -= 1
                if not self._heap:
                    self.condition.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self.condition.wait(wait)
                    continue
                heapq.heappop(self._heap)[2]._fire()


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.reset)


class Countdown:
    """Seconds left of one time budget, on the monotonic clock (immune to clock changes).

    Unlike a `Deadline`, it cuts nothing: it only tells a loop how long it may still
    wait, so that several waits in a row (three pasted answers, the tries of a lock)
    share one budget instead of each getting a fresh one.

    Example:
        >>> budget = Countdown(300)
        >>> answer = read_line(prompt, budget.left())  # doctest: +SKIP
    """

    __slots__ = ("end", "seconds", "start")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def left(self) -> float:
        """Seconds left; 0 once the budget has run out."""
        return max(0.0, self.end - time.monotonic())

    def waited(self) -> float:
        """Seconds since the countdown began."""
        return time.monotonic() - self.start


def poll(
    ready: Callable[[float], bool],
    seconds: float,
    *,
    interval: float,
    max_interval: float | None = None,
    slow_after: float = float("inf"),
    on_slow: Callable[[], object] | None = None,
) -> bool:
    """Try *ready* until it says yes or *seconds* pass; return whether it said yes.

    The one loop for waiting on something another party controls. *ready* is called
    with the seconds it may block, at most *interval* and never past the end: a check
    that can block (taking a thread lock, ``select`` on a terminal, `threading.Event.wait`)
    waits that long and so answers the moment it can; one that cannot (a non-blocking
    ``flock``, Redis ``SET NX``) ignores it, and `poll` sleeps the rest of the interval.
    A try is made at the start and at the end, so ``seconds=0`` is one try.

    Args:
        ready: ``ready(wait) -> bool``: whether the awaited thing happened (or was done,
            such as taking a lock). Its exceptions end the wait.
        seconds: The whole wait's budget.
        interval: Seconds from one try to the next.
        max_interval: If given, the interval doubles after each try, up to this (for a
            shared server, which should not be asked 50 times a second).
        slow_after: Seconds of waiting after which *on_slow* is called, once.
        on_slow: Says what is waited for, when waiting takes longer than usual.

    Example:
        >>> import threading
        >>> lock = threading.Lock()
        >>> poll(lambda wait: lock.acquire(timeout=wait), 10, interval=1.0)
        True
    """
    budget = Countdown(seconds)
    pause = interval
    while True:
        began = time.monotonic()
        if ready(max(0.0, min(pause, budget.end - began))):
            return True
        now = time.monotonic()
        if now >= budget.end:
            return False
        if on_slow is not None and now - budget.start >= slow_after:
            on_slow()
            on_slow = None
        rest = min(began + pause, budget.end) - now
        if rest > 0:
            time.sleep(rest)
        if max_interval is not None:
            pause = min(pause * 2, max_interval)


class WaitLine:
    r"""One line on a terminal that says what a wait waits for and the time left.

    ``Waiting for the browser to return to http://127.0.0.1:8080/ — 4:52 left (Ctrl-C
    to stop)``, redrawn in place (``\r...\x1b[K``) when the seconds shown change, as
    the waiting loop calls `update` (`poll`'s checks: several times a second). It is
    drawn only on a terminal: *stream* is a tty and ``TERM`` is set and not ``dumb``
    (`on_terminal`). Elsewhere (a pipe, a CI log) it writes nothing, so callers keep
    their plain lines there, and no carriage return is ever written.

    Two placements:

    * on the cursor's own line (the default): the line is drawn by `start` and
      cleared by `end`; `say` prints a message above it.
    * ``above=True``, just above a prompt: `start` prints the line and a line break
      (the prompt follows), and each update redraws the line above the cursor
      (saving and restoring the cursor, so what the person types stays as it is).

    Args:
        seconds: The time budget (counted from now), or a `Countdown` shared with the loop.
        stream: Where to draw (standard error by default).
        above: Draw above a prompt, rather than on the cursor's line.
    """

    def __init__(
        self, seconds: float | Countdown, *, stream: TextIO | None = None, above: bool = False
    ) -> None:
        self.budget = seconds if isinstance(seconds, Countdown) else Countdown(seconds)
        self.stream = stream or sys.stderr
        self.above = above
        self.on_terminal = self.wanted(self.stream)
        """Whether the line is drawn at all (`wanted`)."""
        self.what = ""
        self._shown: int | None = None  # the seconds left drawn last; None: not drawn

    @staticmethod
    def wanted(stream: TextIO | None) -> bool:
        """Whether *stream* is a terminal that can redraw a line (``TERM`` not ``dumb``)."""
        if os.environ.get("TERM", "dumb") in ("", "dumb"):
            return False
        try:
            return stream is not None and stream.isatty()
        except (ValueError, OSError):  # closed or detached
            return False

    def text(self) -> str:
        """The line: what is waited for, the time left, and how to stop."""
        left = math.ceil(self.budget.left())
        dash = "—" if "utf" in (getattr(self.stream, "encoding", "") or "").lower() else "-"
        what = "".join(char if char.isprintable() else repr(char)[1:-1] for char in self.what)
        line = f"{what} {dash} {left // 60}:{left % 60:02d} left (Ctrl-C to stop)"
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            width = 80
        return line if len(line) < width else line[: max(width - 2, 1)] + "…"

    def start(self, what: str) -> None:
        """Draw the line saying *what* is waited for (on a terminal only)."""
        self.what = what
        if not self.on_terminal:
            return
        self._shown = math.ceil(self.budget.left())
        if self.above:
            self._write(self.text() + "\n")
        else:
            self._write("\r" + self.text() + "\x1b[K")

    def update(self) -> None:
        """Redraw the line if the seconds left changed since it was drawn."""
        if self._shown is None or math.ceil(self.budget.left()) == self._shown:
            return
        self._shown = math.ceil(self.budget.left())
        if self.above:  # save the cursor, up one line, redraw, restore the cursor
            self._write("\x1b7\x1b[1A\r" + self.text() + "\x1b[K\x1b8")
        else:
            self._write("\r" + self.text() + "\x1b[K")

    def say(self, message: str) -> None:
        """Print *message* as a line of its own; the waiting line goes on below it."""
        if self._shown is None or self.above:
            print(message, file=self.stream, flush=True)
            return
        self._write("\r\x1b[K" + message + "\n" + self.text() + "\x1b[K")

    def end(self) -> None:
        """The wait is over: clear the line (on the cursor's line) and stop updating."""
        if self._shown is not None and not self.above:
            self._write("\r\x1b[K")
        self._shown = None

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a terminal gone: the wait goes on without it
            self._shown = None
