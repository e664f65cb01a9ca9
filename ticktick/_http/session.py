"""The retrying ``requests`` session.

`requests_retry_session` keeps ticktick-py's signature and fixes its defaults:

* Only idempotent methods are retried (``GET``, ``HEAD``, ``PUT``, ``DELETE``,
  ``OPTIONS``): a ``POST`` that may have reached the server is never sent again.
  A request that never left (connection refused) is retried for every method.
* Statuses retried: 429, 500, 502, 503, 504 (not 405: a wrong method stays wrong).
* A server's ``Retry-After`` is honoured, capped at `RETRY_AFTER_MAX` seconds,
  so a hostile or confused server cannot park a client for hours.
* Every request has a timeout (`DEFAULT_TIMEOUT`) unless the caller gives one, and
  it bounds whole phases, not single waits: connecting (TCP, proxy tunnel, TLS) takes
  at most the connect timeout in all, and the whole answer (status line, ``1xx``
  interim answers, headers, body) at most the read timeout in all; see
  ``ticktick._deadline`` for the exact bound.
* A session it creates says who it is: ``User-Agent: ticktick-oauth/<version> ...``.

The token request uses `token_retry`, stricter still: it is retried only when
the server says it did not process it (429 or 503), or when it never left.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry

from .._deadline import Deadline
from .._defaults import DEFAULT_TIMEOUT, Timeout, check_timeout
from .failures import mark_never_sent

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

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


def _seconds(timeout: object) -> float | None:
    """A connection's timeout as seconds, or ``None`` when it has none."""
    return float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None


class _FinalAnswer(http.client.HTTPResponse):
    """An answer that skips every interim ``1xx`` answer (and its headers) but ``101``.

    ``http.client`` skips only ``100 Continue``: a ``102 Processing`` or ``103 Early
    Hints`` would be taken as the final answer, and on a kept-alive connection the real
    answer left unread would then be read by the *next* request. Interim answers are
    read under the answer's one deadline (`_DeadlineHTTPConnection.getresponse`), so
    a server sending them forever is cut like any other slow answer.
    """

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not (100 <= status < 200) or status == 101:
                return version, status, reason
            _skip_headers(self.fp)


def _skip_headers(fp: Any) -> None:
    """Read an interim answer's header lines, as ``http.client`` limits them."""
    for _ in range(_MAX_HEADERS + 1):
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


_MAX_LINE = 65536
_MAX_HEADERS = 100
"""``http.client``'s own limits on a header line and on the number of headers."""


class _DeadlineHTTPConnection(HTTPConnection):
    """A connection whose connecting, and whose whole answer, each have one deadline.

    urllib3 sets ``timeout`` to the connect timeout before connecting and to the
    read timeout just before `getresponse`; each becomes a `Deadline` for the whole
    phase, not only for each wait. The answer's deadline stays in `deadline` while
    the body is read, and is cancelled when the connection goes back to its pool.
    Interim ``1xx`` answers other than ``101`` are skipped (`_FinalAnswer`) within
    that deadline.
    """

    deadline: Deadline | None = None
    """The deadline of the phase under way: connecting, or the answer and its body."""

    response_class = _FinalAnswer

    def connect(self) -> None:
        """Connect (TCP, proxy tunnel, TLS handshake) within the connect timeout in all.

        Any failure is marked as happening before the request was sent; a timeout,
        or the deadline passing, is a ``ConnectTimeoutError`` (urllib3 would report
        a TLS handshake that hangs as a *read* timeout).
        """
        seconds = _seconds(self.timeout)
        self.deadline = deadline = None if seconds is None else Deadline(seconds)
        try:
            super().connect()
        except Exception as exc:
            if isinstance(exc, TimeoutError) or (deadline is not None and deadline.expired):
                late = ConnectTimeoutError(
                    self, f"Connecting to {self.host} did not finish within {seconds:g} s."
                )
                mark_never_sent(late)
                raise late from exc
            mark_never_sent(exc)
            raise
        finally:
            if deadline is not None:
                deadline.cancel()

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.deadline is not None:
            self.deadline.attach(sock)
        return sock

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's
        """Read the status line, any ``1xx`` answers and the headers under one deadline.

        The deadline (the read timeout, from now) goes on with the body; when it
        passes, the socket is shut down and a socket timeout is raised here, which
        urllib3 reports as a ``ReadTimeoutError``.
        """
        seconds = _seconds(self.timeout)
        self.deadline = deadline = None if seconds is None else Deadline(seconds, self.sock)
        try:
            return super().getresponse()
        except Exception:
            if deadline is None:
                raise
            deadline.cancel()
            if deadline.expired:  # what broke was only the cut itself: say nothing of it
                raise TimeoutError(f"no answer within {seconds:g} s") from None
            raise

    def close(self) -> None:
        """Close the connection; its deadline, if any, no longer applies."""
        if self.deadline is not None:
            self.deadline.cancel()
        super().close()


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, HTTPSConnection):
    """`_DeadlineHTTPConnection` over TLS."""


def _idle(conn: BaseHTTPConnection | None) -> None:
    """A connection goes back to its pool: its answer's deadline no longer applies."""
    if isinstance(conn, _DeadlineHTTPConnection) and conn.deadline is not None:
        conn.deadline.cancel()


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        _idle(conn)
        super()._put_conn(conn)


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        _idle(conn)
        super()._put_conn(conn)


_POOL_CLASSES = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}


class TimeoutHTTPAdapter(HTTPAdapter):
    """An `HTTPAdapter` with a default timeout, and one deadline for each answer.

    Connecting takes at most the connect timeout in all, and the whole answer
    (status line, ``1xx`` interim answers, headers, body) at most the read timeout
    in all: see ``ticktick._deadline`` for the exact bound. Through a SOCKS proxy
    only the socket timeouts apply (and `read_body`'s deadline).

    Raises:
        ConfigurationError: *timeout* is not a finite, positive bound (``None``,
            ``(5, None)``, ``nan``, ``inf``, 0 or less); also a timeout given to one
            request (a urllib3 ``Timeout`` object is used as given).
    """

    def __init__(self, *args: Any, timeout: Timeout = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.timeout = check_timeout(timeout)
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Make the pool manager, with connections that keep deadlines."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        """The proxy manager for *proxy*, with connections that keep deadlines (not SOCKS)."""
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send *request*; a timeout of ``None`` means the adapter's own.

        Raises:
            ConfigurationError: *timeout* could wait forever, e.g. ``(5, None)``.
        """
        if timeout is None:
            timeout = self.timeout
        elif not isinstance(timeout, urllib3.Timeout):
            check_timeout(timeout)
        return super().send(
            request,
            stream=stream,
            timeout=timeout,
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
        from .._defaults import __version__

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


def send_once(
    adapter: HTTPAdapter,
    prepared: requests.PreparedRequest,
    settings: Mapping[str, Any],
    timeout: Timeout,
    limit: int,
) -> tuple[requests.Response, bytes]:
    """Send *prepared* through *adapter* and read its body (at most *limit* + 1 bytes).

    The request goes straight to the adapter, so a session's retries never apply (a
    token request must not be sent twice); *settings* are the session's for its URL
    (``merge_environment_settings``: proxies, certificates). The whole exchange, body
    included, is under one deadline (`read_body`).

    Raises:
        requests.RequestException: It could not be sent, or the answer not read in time.
    """
    response = adapter.send(
        prepared,
        stream=True,
        timeout=timeout,
        verify=settings["verify"] if settings["verify"] is not None else True,
        cert=settings["cert"],
        proxies=settings["proxies"],
    )
    return response, read_body(response, limit, timeout)


def read_body(response: requests.Response, limit: int, timeout: Timeout) -> bytes:
    """Read a streamed response's body: at most *limit* (+1) bytes, within its deadline.

    Through `TimeoutHTTPAdapter` the answer is already under one deadline, armed when
    the request was sent, and the body is read under that same deadline. A response
    from any other session gets a deadline of its read timeout from now. When the
    deadline passes, the connection is shut down and ``requests.ReadTimeout`` is
    raised. The response is closed in every case.
    """
    connection = getattr(response.raw, "connection", None)
    deadline = connection.deadline if isinstance(connection, _DeadlineHTTPConnection) else None
    if deadline is None:
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        deadline = Deadline(read_timeout, getattr(connection, "sock", None))
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=16384):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    except requests.RequestException:
        if deadline.expired:
            raise requests.ReadTimeout(_late(deadline)) from None
        raise
    finally:
        deadline.cancel()
        response.close()
    if deadline.expired and size <= limit:
        raise requests.ReadTimeout(_late(deadline))
    return b"".join(chunks)


def _late(deadline: Deadline) -> str:
    return f"the answer did not finish within {deadline.seconds:g} s"
