"""The retrying ``requests`` session.

`requests_retry_session` keeps ticktick-py's signature and fixes its defaults:

* Only idempotent methods are retried (``GET``, ``HEAD``, ``PUT``, ``DELETE``,
  ``OPTIONS``): a ``POST`` that may have reached the server is never sent again.
  A request that never left (connection refused) is retried for every method.
* Statuses retried: 429, 500, 502, 503, 504 (not 405: a wrong method stays wrong).
* A server's ``Retry-After`` is honoured, capped at `RETRY_AFTER_MAX` seconds,
  so a hostile or confused server cannot park a client for hours.
* Every request has a timeout (`DEFAULT_TIMEOUT`) unless the caller gives one.
* A session it creates says who it is: ``User-Agent: ticktick-oauth/<version> ...``.

The token request uses `token_retry`, stricter still: it is retried only when
the server says it did not process it (429 or 503), or when it never left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ._defaults import DEFAULT_TIMEOUT, Timeout

__all__ = [
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "RETRY_AFTER_MAX",
    "TimeoutHTTPAdapter",
    "read_body",
    "requests_retry_session",
    "retry_after_seconds",
    "token_retry",
]

RETRY_AFTER_MAX = 60.0
"""The longest ``Retry-After`` obeyed, in seconds; longer values are cut to this."""


def retry_after_seconds(value: str | None, cap: float = RETRY_AFTER_MAX) -> float | None:
    """Read a ``Retry-After`` value: seconds to wait, or ``None`` when absent or unreadable.

    The value is a number of seconds or an HTTP date. The result is finite, at least 0
    and at most *cap*, whatever the server wrote: ``soon``, ``1e999``, ``nan``, ``-5``
    and broken dates are ``None``; a date in the year 9999 is *cap*.
    """
    import email.utils
    import re
    from datetime import timezone

    value = (value or "").strip()
    if not value:
        return None
    if re.fullmatch(r"[0-9]+", value):
        seconds = float(value)  # inf for an absurd number of digits: capped below
    else:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
        if parsed.tzinfo is None:  # "-0000" or an asctime date: UTC, as HTTP dates are
            parsed = parsed.replace(tzinfo=timezone.utc)
        seconds = parsed.timestamp() - time.time()
    return min(max(0.0, seconds), cap)


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
"""Methods that may be sent twice without changing the result."""

RETRY_STATUSES = (429, 500, 502, 503, 504)


class _CappedRetry(Retry):
    """A `Retry` that waits at most ``retry_after_cap`` seconds.

    urllib3 added its own cap in 2.x releases this package does not require, so the
    cap is applied here and carried through `new`.
    """

    retry_after_cap: float = RETRY_AFTER_MAX

    def parse_retry_after(self, retry_after: str) -> float:
        # An unreadable value waits 0 s, so the usual backoff applies instead.
        return retry_after_seconds(retry_after, self.retry_after_cap) or 0.0

    def new(self, **kw: Any) -> _CappedRetry:
        retry = super().new(**kw)
        retry.retry_after_cap = self.retry_after_cap
        return retry


class TimeoutHTTPAdapter(HTTPAdapter):
    """An `HTTPAdapter` that applies a default timeout."""

    def __init__(self, *args: Any, timeout: Timeout = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(*args, **kwargs)

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def requests_retry_session(
    retries: int = 3,
    backoff_factor: float = 1,
    status_forcelist: Collection[int] = RETRY_STATUSES,
    session: requests.Session | None = None,
    allowed_methods: Iterable[str] = IDEMPOTENT_METHODS,
    *,
    timeout: Timeout = DEFAULT_TIMEOUT,
    retry_after_max: float = RETRY_AFTER_MAX,
) -> requests.Session:
    """Return a session that retries failed idempotent requests with backoff.

    Args:
        retries: How many times a request may be retried in all.
        backoff_factor: Waits grow as ``backoff_factor * 2 ** (n - 1)`` seconds.
        status_forcelist: Statuses that are retried.
        session: A session to configure instead of a new one.
        allowed_methods: Methods retried after the request may have reached the
            server. Adding ``POST`` re-sends requests that may already have been applied.
        timeout: Timeout for requests that set none, as seconds or ``(connect, read)``.
        retry_after_max: The longest ``Retry-After`` wait obeyed, in seconds.

    Examples:
        >>> session = requests_retry_session(retries=5)
        >>> session.get("https://api.ticktick.com/open/v1/project")  # doctest: +SKIP
    """
    if session is None:
        from . import __version__

        session = requests.Session()
        session.headers["User-Agent"] = (
            f"ticktick-oauth/{__version__} {requests.utils.default_user_agent()}"
        )
    retry = _CappedRetry(
        total=retries,
        read=retries,
        connect=retries,
        status=retries,
        backoff_factor=backoff_factor,
        status_forcelist=frozenset(status_forcelist),
        allowed_methods=frozenset(method.upper() for method in allowed_methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.retry_after_cap = retry_after_max
    adapter = TimeoutHTTPAdapter(max_retries=retry, timeout=timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def token_retry(attempts: int = 3, retry_after_max: float = RETRY_AFTER_MAX) -> Retry:
    """The retry policy of the token request, where a code may be used only once.

    Retries happen only when the request surely did not use the code: the
    connection was never made, or the server answered 429 or 503 (it refused to
    process the request). A dropped connection or a timeout after sending, and
    every other status, end the attempt.
    """
    retry = _CappedRetry(
        total=attempts - 1,
        connect=attempts - 1,
        read=False,
        status=attempts - 1,
        other=0,
        redirect=0,
        backoff_factor=0.5,
        status_forcelist=frozenset({429, 503}),
        allowed_methods=frozenset({"POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.retry_after_cap = retry_after_max
    return retry


class _Watchdog:
    """One thread that fires callbacks at deadlines: cheaper than a timer per request.

    `watch` returns a handle; setting ``handle[0] = False`` cancels it. Cancelled
    entries are dropped lazily, when they come due.
    """

    def __init__(self) -> None:
        import threading

        self._threading = threading
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, list[bool], Callable[[], None]]] = []
        self._count = 0
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, callback: Callable[[], None]) -> list[bool]:
        import heapq

        handle = [True]
        with self._condition:
            self._count += 1
            entry = (time.monotonic() + seconds, self._count, handle, callback)
            earliest = not self._heap or entry[0] < self._heap[0][0]
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = self._threading.Thread(
                    target=self._run, name="ticktick-watchdog", daemon=True
                )
                self._thread.start()
            elif earliest:
                self._condition.notify()
        return handle

    def _run(self) -> None:
        import heapq

        while True:
            with self._condition:
                while self._heap and not self._heap[0][2][0]:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                due, _, handle, callback = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
                fire = handle[0]
                handle[0] = False
            if fire:
                callback()


_watchdog: _Watchdog | None = None


def read_body(response: requests.Response, limit: int, timeout: Timeout) -> bytes:
    """Read a streamed response's body: at most *limit* (+1) bytes, within a deadline.

    The read timeout bounds each wait for data, not the whole body: a server that
    sends one byte at a time would never trip it. So the body must arrive within
    the read timeout *in all*; when that passes, the connection is shut down and
    ``requests.ReadTimeout`` is raised. The response is closed in every case.
    """
    import socket

    global _watchdog
    if _watchdog is None:
        _watchdog = _Watchdog()
    read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
    expired: list[bool] = []
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)

    def cut() -> None:
        expired.append(True)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    handle = _watchdog.watch(read_timeout, cut)
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=16384):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit or expired:
                break
    except requests.RequestException:
        if expired:
            raise requests.ReadTimeout("the answer did not finish in time") from None
        raise
    finally:
        handle[0] = False
        response.close()
    if expired and size <= limit:
        raise requests.ReadTimeout("the answer did not finish in time")
    return b"".join(chunks)
