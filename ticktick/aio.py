"""Async apps: an ``httpx`` auth and an async Open API client that never block the loop.

Needs ``pip install 'ticktick-oauth[httpx]'`` (the ``httpx`` package, which brings
``anyio``). It is written against anyio; its tests run it under asyncio.

* [`HttpxAuth`][ticktick.aio.HttpxAuth] puts the token on requests of an
  ``httpx.Client`` or ``httpx.AsyncClient``, to the Open API of its region only, and
  renews it once on 401, as [`TickTickAuth`][ticktick.auth.TickTickAuth] does for
  ``requests``.
* [`AsyncOpenAPI`][ticktick.aio.AsyncOpenAPI] has every endpoint of
  [`OpenAPI`][ticktick.api.OpenAPI], with the same names, typed dicts and typed errors:
  both send the calls `ticktick.api.Calls` describes and read the answers with
  `ticktick.api.read_answer`.

The event loop is never blocked. A token held in memory is taken with a plain check
(`TokenProvider.token_in_memory`). Anything else (reading a store under its lock,
waiting for another process, a person signing on) runs in a worker thread of its own,
and the coroutines of one loop that need a token of one provider at the same time
share that one resolution: 200 coroutines on an empty store cause one sign-on.

Examples:
    >>> async with AsyncOpenAPI(oauth) as api:  # doctest: +SKIP
    ...     projects = await api.list_projects()
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast

from ._defaults import Timeout, __version__, check_count, check_seconds, check_timeout
from ._http.session import IDEMPOTENT_METHODS, RETRY_AFTER_MAX, RETRY_STATUSES
from ._http.session import retry_after_seconds as _retry_after_seconds
from .api import (
    MAX_API_RESPONSE,
    Answer,
    Call,
    Calls,
    read_answer,
    transport_error,
)
from .api import api_base_url as base_url_for
from .auth import MAX_REFUSED_BODY, check_destination, renewed_token, under_base
from .errors import ConfigurationError, ExtraNotInstalled, TransportError
from .models import Date, Project, ProjectData, ProjectFields, Task, TaskFields, TaskMove
from .provider import TokenProvider

try:
    import anyio
    import anyio.lowlevel
    import anyio.to_thread
    import httpx
except ImportError:  # pragma: no cover - run in a subprocess by test_aio
    raise ExtraNotInstalled(
        "ticktick.aio needs the httpx package: pip install 'ticktick-oauth[httpx]'."
    ) from None

__all__ = ["AsyncOpenAPI", "HttpxAuth"]

T = TypeVar("T")


# -- one resolution at a time, per provider and loop ------------------------------------


class _Flight:
    """A resolution under way in a worker thread, which other coroutines wait for."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider  # held while the flight runs, so its id stays its own
        self.done = anyio.Event()
        self.landed = False
        self.token: str | None = None
        self.error: Exception | None = None


_FLIGHTS: dict[tuple[int, object, str | None], _Flight] = {}
"""The resolutions under way, by (provider, event loop, refused token): each entry
lives only while its thread runs, and holds the provider, so its id stays its own."""


async def _single_flight(
    provider: TokenProvider, refused: str | None, work: Callable[[], str | None]
) -> str | None:
    """Run *work* (which may block) in a worker thread, once for all who ask at once.

    The thread is one of anyio's workers, not the loop's default executor, and
    counts against a capacity limiter of its own, not anyio's shared one (which
    FastAPI uses for its sync endpoints): a person taking minutes to sign on ties
    up nothing else. A cancelled caller's thread runs to its end (it is bounded by
    its own timeouts) and its result still serves the others.
    """
    key = (id(provider), anyio.lowlevel.current_token(), refused)
    while True:
        flight = _FLIGHTS.get(key)
        if flight is None:
            flight = _FLIGHTS[key] = _Flight(provider)
            try:
                flight.token = await anyio.to_thread.run_sync(
                    work, limiter=anyio.CapacityLimiter(1)
                )
                flight.landed = True
            except Exception as exc:
                flight.error = exc
                raise
            finally:
                del _FLIGHTS[key]
                flight.done.set()
            return flight.token
        await flight.done.wait()
        if flight.error is not None:
            raise _own_copy(flight.error)
        if flight.landed:
            return flight.token
        # the flight was cancelled before it landed: start another


def _own_copy(error: Exception) -> Exception:
    """*error* for one more waiter: a copy, so that each raise has a traceback of its own.

    Raising the one shared object in each waiter would add every waiter's frames
    to its one ``__traceback__``.
    """
    try:
        mine = copy.copy(error)
    except Exception:  # pragma: no cover - an exception that cannot be rebuilt
        return error
    mine.__cause__, mine.__context__ = error.__cause__, error.__context__
    mine.__suppress_context__ = error.__suppress_context__
    return mine


class HttpxAuth(httpx.Auth):
    """An ``httpx`` auth that sends the provider's token, renewing it once on 401.

    Works with ``httpx.Client`` (the token is resolved in the calling thread) and
    ``httpx.AsyncClient`` (from memory without blocking, else in a worker thread,
    one resolution for all coroutines of the loop).

    Args:
        provider: What holds the token: an [`OAuth2`][ticktick.oauth2.OAuth2] client or
            another [`TokenProvider`][ticktick.provider.TokenProvider].
        api_base_url: Only URLs under this base get the token; by default the Open API
            of the provider's region. A TickTick or Dida365 URL of the other region
            is refused. A redirect that the client follows out of this base is
            sent without the token (`ticktick.auth.under_base`).

    Raises:
        ConfigurationError: ``api_base_url`` belongs to the other region; (when a
            request is sent) its URL is outside ``api_base_url``: the token is not sent.
    """

    def __init__(self, provider: TokenProvider, *, api_base_url: str | None = None) -> None:
        self.provider = provider
        self.api_base_url = base_url_for(provider, api_base_url)

    def __repr__(self) -> str:
        return f"HttpxAuth(api_base_url={self.api_base_url!r})"

    def check(self, url: str) -> None:
        """Refuse *url* unless it is under `api_base_url` (`ConfigurationError`)."""
        check_destination(url, self.api_base_url, self.provider.endpoints.host)

    async def token(self) -> str:
        """A valid token, without blocking the loop: memory, else one shared resolution."""
        token = self.provider.token_in_memory() or await _single_flight(
            self.provider, None, self.provider.get_access_token
        )
        return cast("str", token)

    async def renew(self, refused: str) -> str | None:
        """After a 401: a token other than *refused*, or ``None`` when none comes."""
        held = self.provider.token_in_memory()
        if held is not None and held != refused:
            return held  # another coroutine renewed it already
        work = functools.partial(renewed_token, self.provider, refused)
        return await _single_flight(self.provider, refused, work)

    def _strip_if_leaving(self, request: Any) -> None:
        """Take the token off *request* (httpcore's) unless it goes under `api_base_url`.

        ``httpx`` follows redirects inside one step of the auth flow and keeps the
        ``Authorization`` header on a same-origin redirect; this runs (as the
        request's ``trace`` extension, which redirects keep) just before each
        request's headers are sent, the redirected ones included.
        """
        url = request.url
        port = f":{url.port}" if url.port is not None else ""
        target = f"{url.scheme.decode()}://{url.host.decode()}{port}{url.target.decode()}"
        if not under_base(target, self.api_base_url):
            request.headers[:] = [
                (name, value) for name, value in request.headers if name.lower() != b"authorization"
            ]

    def _guard_redirects(self, request: httpx.Request, *, run_async: bool) -> None:
        """Install `_strip_if_leaving` on *request*, before any other ``trace`` it has."""
        previous = request.extensions.get("trace")
        if getattr(previous, "_ticktick_guard", False):
            return

        def guard(event: str, info: dict[str, Any]) -> None:
            if event.endswith("send_request_headers.started") and "request" in info:
                self._strip_if_leaving(info["request"])

        async def aguard(event: str, info: dict[str, Any]) -> None:
            guard(event, info)
            if previous is not None:
                await previous(event, info)

        def sguard(event: str, info: dict[str, Any]) -> None:
            guard(event, info)
            if previous is not None:
                previous(event, info)

        chosen: Any = aguard if run_async else sguard
        chosen._ticktick_guard = True
        request.extensions = {**request.extensions, "trace": chosen}

    def _refused_deadline(self, request: httpx.Request) -> float:
        """Seconds to read a refused body in: the client's read timeout, else the provider's.

        As `TickTickAuth` reads it within the request's timeout.
        """
        read = request.extensions.get("timeout", {}).get("read")
        if isinstance(read, (int, float)) and read > 0:
            return float(read)
        timeout = self.provider.timeout
        return sum(timeout) if isinstance(timeout, tuple) else timeout

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """Authorize *request* for ``httpx.Client``; renew once on 401."""
        self.check(str(request.url))
        self._guard_redirects(request, run_async=False)
        token = self.provider.get_access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if not _may_resend(request, response):
            return
        renewed = renewed_token(self.provider, token)  # may raise ReauthorizationRequired
        if renewed is None:
            return
        _finish_refused(response, self._refused_deadline(request))
        request.headers["Authorization"] = f"Bearer {renewed}"
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Authorize *request* for ``httpx.AsyncClient``; renew once on 401."""
        self.check(str(request.url))
        self._guard_redirects(request, run_async=True)
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if not _may_resend(request, response):
            return
        renewed = await self.renew(token)  # may raise ReauthorizationRequired
        if renewed is None:
            return
        await _afinish_refused(response, self._refused_deadline(request))
        request.headers["Authorization"] = f"Bearer {renewed}"
        yield request


def _may_resend(request: httpx.Request, response: httpx.Response) -> bool:
    """A 401 to a request whose body can be sent again (not a stream)."""
    return response.status_code == 401 and isinstance(request.stream, httpx.ByteStream)


def _finish_refused(response: httpx.Response, deadline: float) -> None:
    """Read at most `MAX_REFUSED_BODY` bytes of a refused answer in *deadline* s; close it.

    httpx reads the whole answer before the retry; a body that was cut off (too
    large, or too slow: a server could send gigabytes, or a byte a second) is left
    empty, so it does not. Each read is also bounded by the client's read timeout.
    """
    body = bytearray()
    whole = True
    ends = time.monotonic() + deadline
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_REFUSED_BODY or time.monotonic() > ends:
                whole = False
                break
    except httpx.HTTPError:
        whole = False
    finally:
        response.close()
    _keep_body(response, body if whole else None)


async def _afinish_refused(response: httpx.Response, deadline: float) -> None:
    """`_finish_refused` for ``httpx.AsyncClient``."""
    body = bytearray()
    whole = True
    try:
        with anyio.move_on_after(deadline) as scope:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_REFUSED_BODY:
                    whole = False
                    break
        whole = whole and not scope.cancelled_caught
    except httpx.HTTPError:
        whole = False
    finally:
        await response.aclose()
    _keep_body(response, body if whole else None)


def _keep_body(response: httpx.Response, body: bytearray | None) -> None:
    """Keep *body* as httpx keeps one it has read (``read()``/``aread()`` return it).

    ``None``: the body was cut off (too large, too slow, broken); it is kept empty.
    """
    response._content = b"" if body is None else bytes(body)


READ_OFF_LOOP = 256 * 1024
"""Answers larger than this many bytes are decoded and parsed in a worker thread,
item by item (`loads_piecewise`); smaller ones on the loop (1 ms or so)."""

_DECODER = json.JSONDecoder()
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_SPACE = re.compile(r"[ \t\n\r]*")
_SPACES = frozenset(" \t\n\r")


def loads_piecewise(text: str) -> Any:
    """`json.loads`, reading a large array or object (and an object's arrays) by items.

    ``json.loads`` holds the GIL for all of a large text (~180 ms for 13 MB), so in a
    worker thread it would still stall the event loop; between items a thread lets
    the loop run. Any text this cannot read goes to ``json.loads`` (the same value,
    or the same error).
    """
    try:
        value, end = _piece(text, _skip(text, 0), 2)
        if _skip(text, end) == len(text):
            return value
    except (ValueError, RecursionError):
        pass
    return json.loads(text)


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _piece(text: str, at: int, depth: int) -> tuple[Any, int]:
    """The JSON value at *at* and where it ends.

    An array's items are read whole; an object's values item by item, to *depth*
    (an answer is an array of tasks, or an object of such arrays).
    """
    opening = text[at : at + 1]
    if not depth or opening not in ("[", "{"):
        try:
            return _SCAN(text, at)
        except StopIteration:
            raise ValueError("a value") from None
    closing = "]" if opening == "[" else "}"
    items: list[Any] = []
    fields: dict[str, Any] = {}
    at = _skip(text, at + 1)
    if text[at : at + 1] != closing:
        while True:
            if opening == "[":
                item, at = _piece(text, at, 0)
                items.append(item)
            else:
                if text[at : at + 1] != '"':
                    raise ValueError("a key")
                key, at = _piece(text, at, 0)
                at = _skip(text, at)
                if text[at : at + 1] != ":":
                    raise ValueError("a colon")
                fields[key], at = _piece(text, _skip(text, at + 1), depth - 1)
            mark = text[at : at + 1]
            if mark in _SPACES:
                at = _skip(text, at)
                mark = text[at : at + 1]
            if mark == closing:
                break
            if mark != ",":
                raise ValueError("a comma")
            at += 1
            if text[at : at + 1] in _SPACES:
                at = _skip(text, at)
    return (items if opening == "[" else fields), at + 1


class _Broken(Exception):
    """An exchange that failed: *cause*, and whether the answer's headers had come."""

    def __init__(self, cause: Exception, answered: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.answered = answered


def _why_unreached(exc: Exception) -> str:
    """Why a connection could not be made, in the words the sync client uses.

    The system's error (``[Errno 111] Connection refused``) when there is one under
    httpx's own wrapper text ("All connection attempts failed").
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno is not None:
            return f"[Errno {cause.errno}] {os.strerror(cause.errno)}"
        cause = cause.__cause__ or cause.__context__
    return " ".join(str(exc).split())[:200]


def _transport_failure(method: str, url: str, broken: _Broken) -> tuple[TransportError, bool, bool]:
    """What a failed exchange means: the error, never sent or not, chain *exc* or not.

    Only text that no server wrote may be chained, as ``_http.failures.showable`` says.
    The words are those of `ticktick.api.OpenAPI` for the same failure: the name of
    the ``requests`` exception it would meet.
    """
    exc = broken.cause
    unreached: str | None = None
    if isinstance(exc, httpx.ConnectTimeout):
        unreached = "timed out"
    elif isinstance(exc, httpx.PoolTimeout):
        unreached = "no connection of the pool became free in time"
    elif isinstance(exc, httpx.ProxyError):
        unreached = f"the proxy failed: {_why_unreached(exc)}"
    elif isinstance(exc, httpx.ConnectError):
        unreached = _why_unreached(exc)
    late = isinstance(exc, (TimeoutError, httpx.TimeoutException))
    if isinstance(exc, httpx.DecodingError):
        failure = "ContentDecodingError"
    elif broken.answered:
        failure = "ChunkedEncodingError"  # the body broke off
    else:
        failure = "ConnectionError"
    error = transport_error(method, url, unreached=unreached, timed_out=late, failure=failure)
    return error, unreached is not None, unreached is not None or late


class AsyncOpenAPI:
    """The TickTick Open API V1 for async apps, over ``httpx.AsyncClient``.

    The same endpoints, names, typed dicts and typed errors as
    [`OpenAPI`][ticktick.api.OpenAPI]. Use it with ``async with`` (or call `aclose`).

    Args:
        oauth: What keeps the token: an [`OAuth2`][ticktick.oauth2.OAuth2] client, or
            anything else that follows [`TokenProvider`][ticktick.provider.TokenProvider].
        base_url: The API base; by default the Open API of ``oauth``'s region. A
            TickTick or Dida365 URL of the *other* region is refused.
        client: The ``httpx.AsyncClient`` to use (it is not closed by `aclose`); by
            default one of its own, with a pool of `max_connections` connections.
        timeout: Timeout of each request, as seconds or ``(connect, read)`` seconds;
            ``oauth.timeout`` when ``None``. Each exchange (connecting, sending,
            the whole answer) ends within ``connect + read`` seconds in all.
        retries: How many times a request may be sent again: an idempotent one
            (``GET``, ``DELETE``...) after 429 or 5xx or a broken connection, any one
            that never left.
        backoff_factor: Waits between retries grow as ``backoff_factor * 2 ** (n - 1)``
            seconds (none before the first), unless the answer says ``Retry-After``.
        retry_after_max: The longest ``Retry-After`` obeyed, in seconds.
        max_connections: The size of its own client's connection pool.

    Raises:
        ConfigurationError: ``base_url`` belongs to the other region, ``timeout``
            is not a finite, positive bound, or another argument cannot work.
    """

    def __init__(
        self,
        oauth: TokenProvider,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: Timeout | None = None,
        retries: int = 3,
        backoff_factor: float = 1.0,
        retry_after_max: float = RETRY_AFTER_MAX,
        max_connections: int = 32,
    ) -> None:
        self.oauth = oauth
        self.base_url = base_url_for(oauth, base_url)
        self.auth = HttpxAuth(oauth, api_base_url=self.base_url)
        self.timeout = check_timeout(timeout) if timeout is not None else oauth.timeout
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout,) * 2
        self.deadline = connect + read
        """Seconds each exchange may take in all: connecting, sending, the whole answer."""
        self.retries = check_count(retries, "retries=")
        self.backoff_factor = (
            0.0
            if backoff_factor == 0 and not isinstance(backoff_factor, bool)
            else check_seconds(backoff_factor, f"backoff_factor={backoff_factor!r}")
        )
        self.retry_after_max = check_seconds(
            retry_after_max, f"retry_after_max={retry_after_max!r}"
        )
        check_count(max_connections, "max_connections=", least=1, most=10_000)
        self._closed = False
        self._loop: object = None  # the event loop its own client's connections belong to
        self._max_connections = max_connections
        self._slots: anyio.Semaphore | None = None  # made in that loop
        self._pool_wait = read
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(read, connect=connect),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
            headers={"User-Agent": f"ticktick-oauth/{__version__} httpx/{httpx.__version__}"},
        )

    def __repr__(self) -> str:
        return f"AsyncOpenAPI(base_url={self.base_url!r})"

    async def __aenter__(self) -> AsyncOpenAPI:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close its own client's connections (a client that was given stays open).

        It cannot send afterwards: make a new one.
        """
        self._closed = True
        if self._own_client:
            await self.client.aclose()

    def _check_usable(self) -> None:
        """Refuse to send when closed, or (its own client) from another event loop."""
        if self._closed or self.client.is_closed:
            raise ConfigurationError(
                "This AsyncOpenAPI was closed (its `async with` ended, or aclose() or its "
                "client's aclose() was called), so it cannot send; make a new one."
            )
        if self._own_client:
            loop = anyio.lowlevel.current_token()
            if self._loop is None:
                self._loop = loop
                self._slots = anyio.Semaphore(self._max_connections)
            elif self._loop != loop:
                raise ConfigurationError(
                    "This AsyncOpenAPI is bound to another event loop (the one it first "
                    "sent in, e.g. an earlier asyncio.run()); its connections cannot be "
                    "used here. Make an AsyncOpenAPI in each event loop."
                )

    # -- plumbing ---------------------------------------------------------------------

    async def request(self, method: str, path: str, body: object = None) -> Any:
        """Send one authorized request; return the decoded JSON answer (``None`` if empty).

        Raises:
            NotFound, Forbidden, RateLimited, Unauthorized, ApiError: The API refused.
            TransportError: The API could not be reached.
            ReauthorizationRequired: The token was refused and nobody can sign on here.
        """
        return await self.send(Call[Any](method, path, body))

    async def send(self, call: Call[T]) -> T:
        """Send *call* (one of `ticktick.api.Calls`, or your own); return its answer.

        Raises:
            NotFound, Forbidden, RateLimited, Unauthorized, ApiError: The API refused.
            TransportError: The API could not be reached.
            ReauthorizationRequired: The token was refused and nobody can sign on here.
        """
        method, url = call.method, call.url(self.base_url, self.oauth.endpoints.host)
        self._check_usable()
        payload = call.json()
        token = await self.auth.token()
        renewed = False
        retried = 0
        while True:
            try:
                response, body = await self._exchange(method, url, payload, token)
            except _Broken as broken:
                # As the sync session's Retry: a request never sent, or an idempotent
                # one whose answer never began; never one whose body broke off.
                error, unreached, showable = _transport_failure(method, url, broken)
                again = unreached or (method in IDEMPOTENT_METHODS and not broken.answered)
                if retried < self.retries and again:
                    retried += 1
                    await anyio.sleep(self._backoff(retried))
                    continue
                raise error from (broken.cause if showable else None)
            status = response.status_code
            if status == 401 and not renewed:
                renewed = True
                fresh = await self.auth.renew(token)  # may raise ReauthorizationRequired
                if fresh is not None:
                    token = fresh
                    continue
            retry = status in RETRY_STATUSES and method in IDEMPOTENT_METHODS
            if retry and retried < self.retries:
                retried += 1
                asked = _retry_after_seconds(
                    response.headers.get("Retry-After"), self.retry_after_max
                )
                await anyio.sleep(self._backoff(retried) if asked is None else asked)
                continue
            answer = Answer(
                method,
                url,
                status,
                response.headers.get("Content-Type"),
                response.headers.get("Retry-After"),
                body,
                token,
            )
            if len(body) > READ_OFF_LOOP:  # decoding megabytes would stall the loop
                read = functools.partial(read_answer, answer, self.oauth, loads=loads_piecewise)
                return cast("T", await anyio.to_thread.run_sync(read))
            return cast("T", read_answer(answer, self.oauth))

    def _backoff(self, retried: int) -> float:
        return 0.0 if retried <= 1 else self.backoff_factor * 2 ** (retried - 1)

    async def _exchange(
        self, method: str, url: str, payload: object, token: str
    ) -> tuple[httpx.Response, bytes]:
        """`_exchange_now`, once one of `max_connections` slots is free (own client).

        httpcore's pool looks at every waiting request on each event, so 1000
        requests queued in it at once held the loop for seconds (measured: a 2.6 s
        heartbeat gap with 1000 coroutines); they wait here instead, as long as
        httpx would wait for a connection of its pool (the read timeout).
        """
        slots = self._slots
        if slots is None:
            return await self._exchange_now(method, url, payload, token)
        try:
            slots.acquire_nowait()  # the common case, without a cancel scope's cost
        except anyio.WouldBlock:
            with anyio.move_on_after(self._pool_wait) as waiting:
                await slots.acquire()
            if waiting.cancelled_caught:
                free = httpx.PoolTimeout("no connection of the pool became free in time")
                raise _Broken(free, answered=False) from None
        try:
            return await self._exchange_now(method, url, payload, token)
        finally:
            slots.release()

    async def _exchange_now(
        self, method: str, url: str, payload: object, token: str
    ) -> tuple[httpx.Response, bytes]:
        """One request and its whole answer, within `deadline` seconds in all.

        At most `MAX_API_RESPONSE` + 1 bytes of the answer are read, and of a 401
        (refused) answer at most `MAX_REFUSED_BODY` + 1.
        """
        body = bytearray()
        response: httpx.Response | None = None
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.deadline) as scope:
                request = self.client.build_request(
                    method, url, json=payload, headers={"Authorization": f"Bearer {token}"}
                )
                # Never follow a redirect, even with a client that does (as OpenAPI).
                response = await self.client.send(request, stream=True, follow_redirects=False)
                # Of a refused answer (renewed, or quoted in the error) a little is enough.
                limit = MAX_REFUSED_BODY if response.status_code == 401 else MAX_API_RESPONSE
                try:
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > limit:
                            break
                finally:
                    await response.aclose()
        except httpx.RequestError as exc:
            raise _Broken(exc, answered=response is not None) from exc
        if scope.cancelled_caught or response is None:
            late = TimeoutError(f"no whole answer within {self.deadline:g} s")
            raise _Broken(late, answered=response is not None)
        return response, bytes(body)

    # -- projects ---------------------------------------------------------------------

    async def list_projects(self) -> list[Project]:
        """All projects of the account (the cheapest call to check that a token works)."""
        return await self.send(Calls.list_projects())

    async def get_project(self, project_id: str) -> Project:
        """One project."""
        return await self.send(Calls.get_project(project_id))

    async def get_project_data(self, project_id: str) -> ProjectData:
        """A project with its undone tasks and columns; ``"inbox"`` names the inbox."""
        return await self.send(Calls.get_project_data(project_id))

    async def create_project(self, name: str, fields: ProjectFields | None = None) -> Project:
        """Create a project named *name*, with optional ``color``, ``viewMode``, ``kind``..."""
        return await self.send(Calls.create_project(name, fields))

    async def update_project(self, project_id: str, fields: ProjectFields) -> Project:
        """Change a project's fields."""
        return await self.send(Calls.update_project(project_id, fields))

    async def delete_project(self, project_id: str) -> None:
        """Delete a project and its tasks."""
        await self.send(Calls.delete_project(project_id))

    # -- tasks ------------------------------------------------------------------------

    async def get_task(self, project_id: str, task_id: str) -> Task:
        """One task."""
        return await self.send(Calls.get_task(project_id, task_id))

    async def create_task(
        self, project_id: str, title: str, fields: TaskFields | None = None
    ) -> Task:
        """Create a task in a project; ``fields`` may set ``dueDate``, ``priority``..."""
        return await self.send(Calls.create_task(project_id, title, fields))

    async def update_task(self, project_id: str, task_id: str, fields: TaskFields) -> Task:
        """Change a task's fields."""
        return await self.send(Calls.update_task(project_id, task_id, fields))

    async def complete_task(self, project_id: str, task_id: str) -> None:
        """Mark a task completed."""
        await self.send(Calls.complete_task(project_id, task_id))

    async def delete_task(self, project_id: str, task_id: str) -> None:
        """Delete a task."""
        await self.send(Calls.delete_task(project_id, task_id))

    async def move_tasks(self, moves: Sequence[TaskMove]) -> list[dict[str, Any]]:
        """Move tasks between projects; returns TickTick's answer for each move."""
        return await self.send(Calls.move_tasks(moves))

    async def list_completed_tasks(
        self,
        project_ids: Sequence[str] | None = None,
        start_date: Date | None = None,
        end_date: Date | None = None,
    ) -> list[Task]:
        """Completed tasks, optionally of some projects, completed between two dates."""
        return await self.send(Calls.list_completed_tasks(project_ids, start_date, end_date))

    async def filter_tasks(
        self,
        project_ids: Sequence[str] | None = None,
        start_date: Date | None = None,
        end_date: Date | None = None,
        priority: Sequence[int] | None = None,
        tag: Sequence[str] | None = None,
        status: Sequence[int] | None = None,
    ) -> list[Task]:
        """Tasks matching every filter given (projects, dates, priorities, tags, statuses)."""
        call = Calls.filter_tasks(project_ids, start_date, end_date, priority, tag, status)
        return await self.send(call)
