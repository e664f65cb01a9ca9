"""A small client for every endpoint of the TickTick Open API V1.

Requests go through the OAuth2 client's retrying session (its connection pool is
reused across calls) with [`TickTickAuth`][ticktick.auth.TickTickAuth], which renews a refused
token once. Values are the plain JSON of the API, typed with the typed dicts of
[`ticktick.models`][ticktick.models]; ``datetime`` values are sent in TickTick's format (a naive
``datetime`` is taken as local time). Errors are typed: [`NotFound`][ticktick.errors.NotFound],
[`Forbidden`][ticktick.errors.Forbidden], [`RateLimited`][ticktick.errors.RateLimited],
[`Unauthorized`][ticktick.errors.Unauthorized], and [`ApiError`][ticktick.errors.ApiError] for
the rest.

Examples:
    >>> api = OpenAPI(oauth)  # doctest: +SKIP
    >>> inbox = api.get_project_data("inbox")  # doctest: +SKIP
    >>> task = api.create_task(inbox["project"]["id"], "Buy milk",  # doctest: +SKIP
    ...                        {"dueDate": datetime(2026, 12, 1, 9, 0), "priority": 3})
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote, urlsplit

import requests

from ._defaults import Timeout, check_timeout
from ._http.failures import connect_failure, never_sent, showable, timed_out
from ._http.session import (
    IDEMPOTENT_METHODS,
    read_body,
    retry_after_seconds,
)
from .auth import TickTickAuth, check_destination, sent_token, sent_url
from .endpoints import DIDA365, TICKTICK
from .errors import (
    ApiError,
    ConfigurationError,
    Forbidden,
    NotFound,
    RateLimited,
    TransportError,
    Unauthorized,
    argument,
    excerpt,
)
from .models import Date, Project, ProjectData, ProjectFields, Task, TaskFields, TaskMove
from .provider import TokenProvider

__all__ = [
    "DATE_FORMAT",
    "MAX_API_RESPONSE",
    "Answer",
    "Call",
    "Calls",
    "OpenAPI",
    "api_base_url",
    "format_date",
    "read_answer",
    "transport_error",
]

T = TypeVar("T")

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
"""TickTick's date format, ``yyyy-MM-dd'T'HH:mm:ssZ``: ``2019-11-13T03:00:00+0000``."""

_RATE_LIMIT_MARK = "exceed_query_limit"

MAX_API_RESPONSE = 16 * 1024 * 1024
"""The largest Open API answer read, in bytes."""


_CHARSETS = (
    frozenset(
        [
            "ascii",
            "utf-8",
            "utf-8-sig",
            "utf-16",
            "utf-16-be",
            "utf-16-le",
            "utf-32",
            "utf-32-be",
            "utf-32-le",
            "koi8-r",
            "koi8-u",
            "big5",
            "euc_jp",
            "euc_kr",
            "gb2312",
            "gbk",
            "gb18030",
            "shift_jis",
        ]
    )
    | {f"iso8859-{n}" for n in range(1, 17) if n != 12}
    | {f"cp{n}" for n in range(1250, 1259)}
)
"""Charsets an answer is decoded in (as `codecs.lookup` names them): ordinary text
encodings, each decoded in linear time. JSON is UTF-8 (RFC 8259); the others serve
error pages of proxies."""


def _charset_name(charset: str) -> str | None:
    """The codec's own name for *charset* (``latin-1`` is ``iso8859-1``), or ``None``."""
    import codecs

    try:
        return codecs.lookup(charset).name
    except (LookupError, ValueError, TypeError):
        return None


def format_date(value: datetime) -> str:
    """Format a ``datetime`` as TickTick expects; a naive one is taken as local time."""
    return (
        value.astimezone().strftime(DATE_FORMAT)
        if value.tzinfo is None
        else value.strftime(DATE_FORMAT)
    )


def _encode(value: object) -> object:
    """Turn ``datetime`` values, at any depth, into TickTick date strings."""
    if isinstance(value, datetime):
        return format_date(value)
    if isinstance(value, Mapping):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _segment(value: str) -> str:
    """An id as one URL path segment (no '/', '..' or '?' can escape it)."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"An id must be a non-empty string, not {value!r}.")
    return quote(value, safe="")


def _region_of(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").lower()
    for endpoints in (TICKTICK, DIDA365):
        if host == endpoints.host or host.endswith("." + endpoints.host):
            return endpoints.host
    return None


def api_base_url(provider: TokenProvider, base_url: str | None = None) -> str:
    """The API base a client of *provider* uses: *base_url*, or the region's Open API.

    Raises:
        ConfigurationError: *base_url* is a TickTick or Dida365 URL of the other region.
    """
    url = (base_url or provider.endpoints.api_base_url).rstrip("/")
    region = _region_of(url)
    if region is not None and region != _region_of(provider.endpoints.api_base_url):
        raise ConfigurationError(
            f"base_url {url} belongs to {region}, but the token is for "
            f"{provider.endpoints.host}; tokens work only in their own region. Pass the "
            "matching host= to OAuth2."
        )
    return url


# -- one description of each endpoint, for every client -----------------------------


@dataclass(frozen=True)
class Call(Generic[T]):
    """One Open API request, described without sending it; ``T`` is its answer's type.

    Both clients, `OpenAPI` and [`AsyncOpenAPI`][ticktick.aio.AsyncOpenAPI], send
    the calls that `Calls` describes, and read the answers with `read_answer`.
    """

    method: str
    path: str
    body: object = None

    def url(self, base_url: str, region: str) -> str:
        """The URL this call goes to under *base_url*, as it is sent; checked to stay there.

        Both clients send to this URL: dot segments are resolved and backslashes quoted
        first, so a path such as ``/../../oauth`` cannot take the token out of the base.

        Raises:
            ConfigurationError: The URL leaves *base_url* (*region* is the token's).
        """
        url = sent_url(f"{base_url}{self.path}")
        check_destination(url, base_url, region)
        return url

    def json(self) -> object:
        """The body as JSON values (``datetime`` values as TickTick dates), or ``None``."""
        return None if self.body is None else _encode(self.body)


class Calls:
    """Every endpoint of the Open API V1, as a `Call` (the sans-IO half of the clients)."""

    @staticmethod
    def list_projects() -> Call[list[Project]]:
        """All projects of the account."""
        return Call("GET", "/project")

    @staticmethod
    def get_project(project_id: str) -> Call[Project]:
        """One project."""
        return Call("GET", f"/project/{_segment(project_id)}")

    @staticmethod
    def get_project_data(project_id: str) -> Call[ProjectData]:
        """A project with its undone tasks and columns."""
        return Call("GET", f"/project/{_segment(project_id)}/data")

    @staticmethod
    def create_project(name: str, fields: ProjectFields | None = None) -> Call[Project]:
        """Create a project."""
        return Call("POST", "/project", {**(fields or {}), "name": name})

    @staticmethod
    def update_project(project_id: str, fields: ProjectFields) -> Call[Project]:
        """Change a project's fields."""
        return Call("POST", f"/project/{_segment(project_id)}", dict(fields))

    @staticmethod
    def delete_project(project_id: str) -> Call[None]:
        """Delete a project."""
        return Call("DELETE", f"/project/{_segment(project_id)}")

    @staticmethod
    def get_task(project_id: str, task_id: str) -> Call[Task]:
        """One task."""
        return Call("GET", f"/project/{_segment(project_id)}/task/{_segment(task_id)}")

    @staticmethod
    def create_task(project_id: str, title: str, fields: TaskFields | None = None) -> Call[Task]:
        """Create a task in a project."""
        return Call("POST", "/task", {**(fields or {}), "projectId": project_id, "title": title})

    @staticmethod
    def update_task(project_id: str, task_id: str, fields: TaskFields) -> Call[Task]:
        """Change a task's fields."""
        body = {**fields, "id": task_id, "projectId": project_id}
        return Call("POST", f"/task/{_segment(task_id)}", body)

    @staticmethod
    def complete_task(project_id: str, task_id: str) -> Call[None]:
        """Mark a task completed."""
        path = f"/project/{_segment(project_id)}/task/{_segment(task_id)}/complete"
        return Call("POST", path)

    @staticmethod
    def delete_task(project_id: str, task_id: str) -> Call[None]:
        """Delete a task."""
        return Call("DELETE", f"/project/{_segment(project_id)}/task/{_segment(task_id)}")

    @staticmethod
    def move_tasks(moves: Sequence[TaskMove]) -> Call[list[dict[str, Any]]]:
        """Move tasks between projects."""
        return Call("POST", "/task/move", list(moves))

    @staticmethod
    def list_completed_tasks(
        project_ids: Sequence[str] | None = None,
        start_date: Date | None = None,
        end_date: Date | None = None,
    ) -> Call[list[Task]]:
        """Completed tasks, optionally of some projects, completed between two dates."""
        body = _without_none(projectIds=project_ids, startDate=start_date, endDate=end_date)
        return Call("POST", "/task/completed", body)

    @staticmethod
    def filter_tasks(
        project_ids: Sequence[str] | None = None,
        start_date: Date | None = None,
        end_date: Date | None = None,
        priority: Sequence[int] | None = None,
        tag: Sequence[str] | None = None,
        status: Sequence[int] | None = None,
    ) -> Call[list[Task]]:
        """Tasks matching every filter given."""
        body = _without_none(
            projectIds=project_ids,
            startDate=start_date,
            endDate=end_date,
            priority=priority,
            tag=tag,
            status=status,
        )
        return Call("POST", "/task/filter", body)


# -- one reading of each answer, for every client ----------------------------------------


@dataclass(frozen=True)
class Answer:
    """An Open API answer as the clients read it, whatever HTTP library carried it.

    Attributes:
        method: The request's method.
        url: The request's URL.
        status: The HTTP status.
        content_type: The ``Content-Type`` header, if any.
        retry_after: The ``Retry-After`` header, if any.
        body: The body read, at most `MAX_API_RESPONSE` + 1 bytes.
        sent_token: The token the request carried (hidden in every message).
    """

    method: str
    url: str
    status: int
    content_type: str | None
    retry_after: str | None
    body: bytes
    sent_token: str | None


def read_answer(
    answer: Answer, provider: TokenProvider, *, loads: Callable[[str], Any] = json.loads
) -> Any:
    """The decoded JSON of *answer* (``None`` if empty), or its typed error.

    The one reading of an answer: its size cap, charset, status, JSON and TickTick's
    rate-limit marks, for `OpenAPI` and `AsyncOpenAPI` alike. *loads* parses the
    JSON text (it raises ``ValueError`` as `json.loads` does).

    Raises:
        NotFound, Forbidden, RateLimited, Unauthorized, ApiError: The API refused, or
            its answer cannot be read.
    """
    method, url, status = answer.method, answer.url, answer.status
    if len(answer.body) > MAX_API_RESPONSE:
        raise ApiError(
            f"{method} {url} answered with more than {MAX_API_RESPONSE} bytes "
            f"(HTTP {status}); it was not read. Narrow the request.",
            status=status,
        )
    text = _text(answer, provider)
    if not 200 <= status < 300:
        raise _error(answer, provider, text)
    if not text.strip():
        return None
    try:
        value = loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to read
        quoted = _excerpt(text, answer, provider)
        raise ApiError(
            f"{method} {url} answered HTTP {status} with a body that is not "
            f"JSON (or nests too deeply to read): {quoted!r}",
            status=status,
            body_excerpt=quoted,
        ) from None
    if isinstance(value, dict) and _RATE_LIMIT_MARK in (
        str(value.get("errorCode")),
        str(value.get("errorId")),
    ):
        raise _error(answer, provider, text)
    return value


def _text(answer: Answer, provider: TokenProvider) -> str:
    """The body decoded in its declared charset (UTF-8, JSON's, when none is given).

    The charset is read from the ``Content-Type`` as ``requests`` reads it. Only
    ordinary text encodings (`_CHARSETS`) are used: others, such as ``punycode``
    (whose decoder is quadratic) or ``base64``, count as unknown. An error answer in
    an unknown charset is read as UTF-8, only to quote it in the error; a successful
    one is refused rather than guessed at.
    """
    raw, status = answer.body, answer.status
    declared = (
        requests.utils.get_encoding_from_headers({"content-type": answer.content_type})
        if answer.content_type
        else None
    )
    charset = declared or "utf-8"
    try:
        if _charset_name(charset) in _CHARSETS:
            return raw.decode(charset, errors="replace")
    except (LookupError, ValueError):  # e.g. a BOM-less utf-16 that is cut short
        pass
    if raw and 200 <= status < 300:
        raise ApiError(
            f"{answer.method} {answer.url} answered HTTP {status} in the charset "
            f"{_excerpt(charset, answer, provider)!r}, which cannot be decoded, so the answer "
            "was not read. Check base_url points at the TickTick Open API; if it does, "
            "report this answer.",
            status=status,
        )
    return raw.decode("utf-8", errors="replace")


def _excerpt(text: str, answer: Answer, provider: TokenProvider) -> str:
    """A safe excerpt of server text: short, and without the token in any spelling.

    The tokens hidden are the one the answered request carried and the one in memory.
    """
    return excerpt(text, [answer.sent_token or None, provider.token_in_memory()])


def _error(answer: Answer, provider: TokenProvider, text: str) -> ApiError:
    status = answer.status
    body = _excerpt(text, answer, provider)
    where = f"{answer.method} {answer.url} failed with HTTP {status}"
    if status == 429 or _RATE_LIMIT_MARK in text:
        retry_after = retry_after_seconds(answer.retry_after)
        wait = f"wait {retry_after:g} s" if retry_after is not None else "wait a minute"
        return RateLimited(
            f"{where}: TickTick's rate limit was reached ({body!r}). Slow down: {wait}, then "
            "try again.",
            status=status,
            body_excerpt=body,
            retry_after=retry_after,
        )
    if status == 401:
        return Unauthorized(
            f"{where}: TickTick refused the access token from {provider.token_source}, "
            "also after asking for it again. It was revoked, mistyped or is another app's. "
            f"To get a new one, {provider.renewal_advice()}.",
            status=status,
            body_excerpt=body,
        )
    if status == 403:
        return Forbidden(
            f"{where}: the token may not do this ({body!r}). Check the project belongs to "
            "the signed-in account and the scope includes tasks:write.",
            status=status,
            body_excerpt=body,
        )
    if status == 404:
        return NotFound(
            f"{where}: no such project or task ({body!r}). Check the ids.",
            status=status,
            body_excerpt=body,
        )
    return ApiError(f"{where}: {body!r}.", status=status, body_excerpt=body)


def transport_error(
    method: str, url: str, *, unreached: str | None, timed_out: bool, failure: str
) -> TransportError:
    """The error of a request that got no answer, saying whether it may have been applied.

    Args:
        method: The request's method.
        url: The request's URL.
        unreached: Why the request was never sent (it was not applied), or ``None``
            when it may have reached the server.
        timed_out: The answer did not come in time.
        failure: What broke off, e.g. the exception's class name.
    """
    if unreached is not None:
        return TransportError(
            f"Could not reach {url} ({unreached}); the request was never sent. "
            f"Check the network, any proxy, and {argument('host')}."
        )
    applied = (
        ""
        if method in IDEMPOTENT_METHODS
        else " The request may have been applied: check before sending it again."
    )
    if timed_out:
        return TransportError(f"{method} {url} did not answer in time.{applied}")
    return TransportError(f"The connection broke off during {method} {url} ({failure}).{applied}")


def _transport_error(method: str, url: str, exc: requests.RequestException) -> TransportError:
    """Say whether the request was sent, which decides whether it may have been applied."""
    return transport_error(
        method,
        url,
        unreached=connect_failure(exc) if never_sent(exc) else None,
        timed_out=timed_out(exc),
        failure=type(exc).__name__,
    )


class OpenAPI:
    """The TickTick Open API V1, authorized by an OAuth2 client or another token provider.

    Args:
        oauth: What keeps the token: an [`OAuth2`][ticktick.oauth2.OAuth2] client, or
            anything else that follows [`TokenProvider`][ticktick.provider.TokenProvider].
        base_url: The API base; by default the Open API of ``oauth``'s region
            (``https://api.ticktick.com/open/v1`` or ``https://api.dida365.com/open/v1``).
            A TickTick or Dida365 URL of the *other* region is refused.
        session: The ``requests`` session to use; ``oauth.session`` by default.
        timeout: Timeout of each request; ``oauth.timeout`` when ``None``.

    Raises:
        ConfigurationError: ``base_url`` belongs to the other region, or ``timeout``
            is not a finite, positive bound.
    """

    def __init__(
        self,
        oauth: TokenProvider,
        *,
        base_url: str | None = None,
        session: requests.Session | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        self.oauth = oauth
        self.base_url = api_base_url(oauth, base_url)
        self.session = session or oauth.session
        self.auth = TickTickAuth(oauth, api_base_url=self.base_url)
        self.timeout = check_timeout(timeout) if timeout is not None else oauth.timeout

    def __repr__(self) -> str:
        return f"OpenAPI(base_url={self.base_url!r})"

    # -- plumbing ---------------------------------------------------------------------

    def request(self, method: str, path: str, body: object = None) -> Any:
        """Send one authorized request; return the decoded JSON answer (``None`` if empty).

        Raises:
            NotFound, Forbidden, RateLimited, Unauthorized, ApiError: The API refused.
            TransportError: The API could not be reached.
            ReauthorizationRequired: The token was refused and nobody can sign on here.
        """
        return self.send(Call[Any](method, path, body))

    def send(self, call: Call[T]) -> T:
        """Send *call* (one of `Calls`, or your own) and return its answer.

        Raises:
            NotFound, Forbidden, RateLimited, Unauthorized, ApiError: The API refused.
            TransportError: The API could not be reached.
            ReauthorizationRequired: The token was refused and nobody can sign on here.
        """
        method, url = call.method, call.url(self.base_url, self.oauth.endpoints.host)
        try:
            response = self.session.request(
                method,
                url,
                json=call.json(),
                auth=self.auth,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
            raw = read_body(response, MAX_API_RESPONSE, self.timeout)
        except requests.RequestException as exc:
            raise _transport_error(method, url, exc) from (exc if showable(exc) else None)
        answer = Answer(
            method,
            url,
            response.status_code,
            response.headers.get("Content-Type"),
            response.headers.get("Retry-After"),
            raw,
            sent_token(response.request),
        )
        return cast("T", read_answer(answer, self.oauth))

    # -- projects ---------------------------------------------------------------------

    def list_projects(self) -> list[Project]:
        """All projects of the account (the cheapest call to check that a token works)."""
        return self.send(Calls.list_projects())

    def get_project(self, project_id: str) -> Project:
        """One project."""
        return self.send(Calls.get_project(project_id))

    def get_project_data(self, project_id: str) -> ProjectData:
        """A project with its undone tasks and columns; ``"inbox"`` names the inbox."""
        return self.send(Calls.get_project_data(project_id))

    def create_project(self, name: str, fields: ProjectFields | None = None) -> Project:
        """Create a project named *name*, with optional ``color``, ``viewMode``, ``kind``..."""
        return self.send(Calls.create_project(name, fields))

    def update_project(self, project_id: str, fields: ProjectFields) -> Project:
        """Change a project's fields."""
        return self.send(Calls.update_project(project_id, fields))

    def delete_project(self, project_id: str) -> None:
        """Delete a project and its tasks."""
        self.send(Calls.delete_project(project_id))

    # -- tasks ------------------------------------------------------------------------

    def get_task(self, project_id: str, task_id: str) -> Task:
        """One task."""
        return self.send(Calls.get_task(project_id, task_id))

    def create_task(self, project_id: str, title: str, fields: TaskFields | None = None) -> Task:
        """Create a task in a project; ``fields`` may set ``dueDate``, ``priority``..."""
        return self.send(Calls.create_task(project_id, title, fields))

    def update_task(self, project_id: str, task_id: str, fields: TaskFields) -> Task:
        """Change a task's fields."""
        return self.send(Calls.update_task(project_id, task_id, fields))

    def complete_task(self, project_id: str, task_id: str) -> None:
        """Mark a task completed."""
        self.send(Calls.complete_task(project_id, task_id))

    def delete_task(self, project_id: str, task_id: str) -> None:
        """Delete a task."""
        self.send(Calls.delete_task(project_id, task_id))

    def move_tasks(self, moves: Sequence[TaskMove]) -> list[dict[str, Any]]:
        """Move tasks between projects; returns TickTick's answer for each move."""
        return self.send(Calls.move_tasks(moves))

    def list_completed_tasks(
        self,
        project_ids: Sequence[str] | None = None,
        start_date: Date | None = None,
        end_date: Date | None = None,
    ) -> list[Task]:
        """Completed tasks, optionally of some projects, completed between two dates."""
        return self.send(Calls.list_completed_tasks(project_ids, start_date, end_date))

    def filter_tasks(
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
        return self.send(call)


def _without_none(**fields: object) -> dict[str, object]:
    return {
        key: list(value) if isinstance(value, (list, tuple)) else value
        for key, value in fields.items()
        if value is not None
    }
