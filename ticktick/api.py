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
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote, urlsplit

import requests

from ._defaults import Timeout, check_timeout
from ._http.failures import connect_failure, never_sent, showable, timed_out
from ._http.session import (
    IDEMPOTENT_METHODS,
    read_body,
    retry_after_seconds,
)
from .auth import TickTickAuth
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

__all__ = ["DATE_FORMAT", "OpenAPI", "format_date"]

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


def _retry_after(response: requests.Response) -> float | None:
    """Seconds the answer asks to wait (finite, capped); ``None`` when it does not say."""
    return retry_after_seconds(response.headers.get("Retry-After"))


def _transport_error(method: str, url: str, exc: requests.RequestException) -> TransportError:
    """Say whether the request was sent, which decides whether it may have been applied."""
    if never_sent(exc):
        return TransportError(
            f"Could not reach {url} ({connect_failure(exc)}); the request was never sent. "
            f"Check the network, any proxy, and {argument('host')}."
        )
    applied = (
        ""
        if method in IDEMPOTENT_METHODS
        else " The request may have been applied: check before sending it again."
    )
    if timed_out(exc):
        return TransportError(f"{method} {url} did not answer in time.{applied}")
    return TransportError(
        f"The connection broke off during {method} {url} ({type(exc).__name__}).{applied}"
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
        self.base_url = (base_url or oauth.endpoints.api_base_url).rstrip("/")
        region = _region_of(self.base_url)
        if region is not None and region != _region_of(oauth.endpoints.api_base_url):
            raise ConfigurationError(
                f"base_url {self.base_url} belongs to {region}, but the token is for "
                f"{oauth.endpoints.host}; tokens work only in their own region. Pass the "
                "matching host= to OAuth2."
            )
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
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(
                method,
                url,
                json=None if body is None else _encode(body),
                auth=self.auth,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
            raw = read_body(response, MAX_API_RESPONSE, self.timeout)
        except requests.RequestException as exc:
            raise _transport_error(method, url, exc) from (exc if showable(exc) else None)
        if len(raw) > MAX_API_RESPONSE:
            raise ApiError(
                f"{method} {url} answered with more than {MAX_API_RESPONSE} bytes "
                f"(HTTP {response.status_code}); it was not read. Narrow the request.",
                status=response.status_code,
            )
        text = self._text(method, url, response, raw)
        if not 200 <= response.status_code < 300:
            raise self._error(method, url, response, text)
        if not text.strip():
            return None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply to read
            raise ApiError(
                f"{method} {url} answered HTTP {response.status_code} with a body that is not "
                f"JSON (or nests too deeply to read): {self._excerpt(text, response)!r}",
                status=response.status_code,
                body_excerpt=self._excerpt(text, response),
            ) from None
        if isinstance(value, dict) and _RATE_LIMIT_MARK in (
            str(value.get("errorCode")),
            str(value.get("errorId")),
        ):
            raise self._error(method, url, response, text)
        return value

    def _text(self, method: str, url: str, response: requests.Response, raw: bytes) -> str:
        """The body decoded in its declared charset (UTF-8, JSON's, when none is given).

        Only ordinary text encodings (`_CHARSETS`) are used: others, such as ``punycode``
        (whose decoder is quadratic) or ``base64``, count as unknown. An error answer in
        an unknown charset is read as UTF-8, only to quote it in the error; a successful
        one is refused rather than guessed at.
        """
        charset = response.encoding or "utf-8"
        try:
            if _charset_name(charset) in _CHARSETS:
                return raw.decode(charset, errors="replace")
        except (LookupError, ValueError):  # e.g. a BOM-less utf-16 that is cut short
            pass
        if raw and 200 <= response.status_code < 300:
            raise ApiError(
                f"{method} {url} answered HTTP {response.status_code} in the charset "
                f"{self._excerpt(charset, response)!r}, which cannot be decoded, so the answer was "
                "not read. Check base_url points at the TickTick Open API; if it does, "
                "report this answer.",
                status=response.status_code,
            )
        return raw.decode("utf-8", errors="replace")

    def _excerpt(self, text: str, response: requests.Response) -> str:
        """A safe excerpt of server text: short, and without the token in any spelling.

        The tokens hidden are the one the answered request carried and the one in memory.
        """
        sent = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ")
        return excerpt(text, [sent or None, self.oauth.token_in_memory()])

    def _error(self, method: str, url: str, response: requests.Response, text: str) -> ApiError:
        status = response.status_code
        body = self._excerpt(text, response)
        where = f"{method} {url} failed with HTTP {status}"
        if status == 429 or _RATE_LIMIT_MARK in text:
            retry_after = _retry_after(response)
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
                f"{where}: TickTick refused the access token from {self.oauth.token_source}, "
                "also after asking for it again. It was revoked, mistyped or is another app's. "
                f"To get a new one, {self.oauth.renewal_advice()}.",
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

    # -- projects ---------------------------------------------------------------------

    def list_projects(self) -> list[Project]:
        """All projects of the account (the cheapest call to check that a token works)."""
        return cast("list[Project]", self.request("GET", "/project"))

    def get_project(self, project_id: str) -> Project:
        """One project."""
        return cast("Project", self.request("GET", f"/project/{_segment(project_id)}"))

    def get_project_data(self, project_id: str) -> ProjectData:
        """A project with its undone tasks and columns; ``"inbox"`` names the inbox."""
        return cast("ProjectData", self.request("GET", f"/project/{_segment(project_id)}/data"))

    def create_project(self, name: str, fields: ProjectFields | None = None) -> Project:
        """Create a project named *name*, with optional ``color``, ``viewMode``, ``kind``..."""
        return cast("Project", self.request("POST", "/project", {**(fields or {}), "name": name}))

    def update_project(self, project_id: str, fields: ProjectFields) -> Project:
        """Change a project's fields."""
        return cast(
            "Project", self.request("POST", f"/project/{_segment(project_id)}", dict(fields))
        )

    def delete_project(self, project_id: str) -> None:
        """Delete a project and its tasks."""
        self.request("DELETE", f"/project/{_segment(project_id)}")

    # -- tasks ------------------------------------------------------------------------

    def get_task(self, project_id: str, task_id: str) -> Task:
        """One task."""
        path = f"/project/{_segment(project_id)}/task/{_segment(task_id)}"
        return cast("Task", self.request("GET", path))

    def create_task(self, project_id: str, title: str, fields: TaskFields | None = None) -> Task:
        """Create a task in a project; ``fields`` may set ``dueDate``, ``priority``..."""
        body = {**(fields or {}), "projectId": project_id, "title": title}
        return cast("Task", self.request("POST", "/task", body))

    def update_task(self, project_id: str, task_id: str, fields: TaskFields) -> Task:
        """Change a task's fields."""
        body = {**fields, "id": task_id, "projectId": project_id}
        return cast("Task", self.request("POST", f"/task/{_segment(task_id)}", body))

    def complete_task(self, project_id: str, task_id: str) -> None:
        """Mark a task completed."""
        path = f"/project/{_segment(project_id)}/task/{_segment(task_id)}/complete"
        self.request("POST", path)

    def delete_task(self, project_id: str, task_id: str) -> None:
        """Delete a task."""
        self.request("DELETE", f"/project/{_segment(project_id)}/task/{_segment(task_id)}")

    def move_tasks(self, moves: Sequence[TaskMove]) -> list[dict[str, Any]]:
        """Move tasks between projects; returns TickTick's answer for each move."""
        return cast("list[dict[str, Any]]", self.request("POST", "/task/move", list(moves)))

    def list_completed_tasks(
        self,
        project_ids: Sequence[str] | None = None,
        start_date: Date | None = None,
        end_date: Date | None = None,
    ) -> list[Task]:
        """Completed tasks, optionally of some projects, completed between two dates."""
        body = _without_none(projectIds=project_ids, startDate=start_date, endDate=end_date)
        return cast("list[Task]", self.request("POST", "/task/completed", body))

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
        body = _without_none(
            projectIds=project_ids,
            startDate=start_date,
            endDate=end_date,
            priority=priority,
            tag=tag,
            status=status,
        )
        return cast("list[Task]", self.request("POST", "/task/filter", body))


def _without_none(**fields: object) -> dict[str, object]:
    return {
        key: list(value) if isinstance(value, (list, tuple)) else value
        for key, value in fields.items()
        if value is not None
    }
