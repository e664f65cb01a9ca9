"""Authorize ``requests`` calls with the token an [`OAuth2`][ticktick.oauth2.OAuth2] keeps.

`TickTickAuth` is a ``requests`` auth object::

    session.get("https://api.ticktick.com/open/v1/project", auth=TickTickAuth(oauth))

Each request gets ``Authorization: Bearer <token>`` from
[`OAuth2.get_access_token()`][ticktick.oauth2.OAuth2.get_access_token]. When TickTick
answers 401, the refused token is discarded (from memory, and from the cache file if
it is still there), a token is resolved again and the request is sent once more, once.
A second refusal is returned as it is: there is no loop. Where nobody can be asked
to sign on, resolving again raises
[`ReauthorizationRequired`][ticktick.errors.ReauthorizationRequired]. Of the refused
answer, at most `MAX_REFUSED_BODY` bytes are read, within its deadline: a larger
body is not read but cut off with its connection (its ``content`` is then empty).

The token is attached only to URLs under the Open API base of the client's region, so
a ticktick.com token is never sent to dida365.com, nor to any other host. A redirect
to a URL outside that base is followed (when the session follows redirects) without
the token: `under_base` is the one rule, for this auth and ``ticktick.aio.HttpxAuth``.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase

from ._defaults import Timeout, check_timeout, logger
from ._http.session import read_body
from .errors import ConfigurationError
from .provider import TokenProvider

__all__ = [
    "MAX_REFUSED_BODY",
    "TickTickAuth",
    "check_destination",
    "renewed_token",
    "sent_token",
    "sent_url",
    "under_base",
]

_RETRIED = "_ticktick_retried"
_STRIPPED = "_ticktick_stripped"

MAX_REFUSED_BODY = 64 * 1024
"""The most of a refused (401) answer's body read before the retry, in bytes."""


@functools.lru_cache(maxsize=256)  # the same base URL, and API URLs, again and again
def _origin_and_path(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, parts.path


_DOT_SEGMENTS = frozenset({".", ".."})


@functools.lru_cache(maxsize=1024)  # the same few API paths, again and again
def sent_url(url: str) -> str:
    """*url* as it goes on the wire: dot segments removed, backslashes quoted.

    The URL ``requests`` prepares (and ``httpx`` sends unchanged), so that a check of
    it checks what is sent. Both Open API clients build their URLs with it.

    Raises:
        ConfigurationError: *url* is not an http(s) URL.
    """
    prepared = requests.PreparedRequest()
    try:
        # Twice: requests resolves dot segments, then unquotes %2e to "." (which
        # would go out as "/open/v1/../x"); the second pass resolves those.
        prepared.prepare_url(url, None)
        prepared.prepare_url(prepared.url, None)
    except requests.RequestException as exc:
        raise ConfigurationError(
            f"{url!r} is not a URL a request can go to ({exc}). Check base_url=."
        ) from None
    return str(prepared.url)


def under_base(url: str, api_base_url: str) -> bool:
    """Whether *url* is under *api_base_url*: the only URLs that may carry the token.

    The same scheme, host and port, and a path at or under the base's path, without
    a ``.`` or ``..`` segment (which a server resolves, maybe out of the base). The
    rule of every auth of this package, for each request and each redirect it follows.
    """
    scheme, host, port, path = _origin_and_path(url)
    allowed_scheme, allowed_host, allowed_port, allowed_path = _origin_and_path(api_base_url)
    return (
        (scheme, host, port) == (allowed_scheme, allowed_host, allowed_port)
        and (path == allowed_path or path.startswith(allowed_path + "/"))
        and not _DOT_SEGMENTS.intersection(path.split("/"))
    )


def check_destination(url: str, api_base_url: str, region: str) -> None:
    """Refuse to send a token of *region* to *url* unless it is under *api_base_url*.

    The same scheme, host and port, and a path at or under the base's path: the rule
    of every auth of this package (`TickTickAuth`, ``ticktick.aio.HttpxAuth``).

    Raises:
        ConfigurationError: *url* is outside *api_base_url*.
    """
    if not under_base(url, api_base_url):
        scheme, host, _, path = _origin_and_path(url)
        raise ConfigurationError(
            f"Refusing to send the TickTick token to {scheme}://{host}{path}: it is not "
            f"under {api_base_url}, the Open API of the token's region "
            f"({region}). Use the matching host= or api_base_url=."
        )


def sent_token(request: requests.PreparedRequest) -> str:
    """The token *request* carried (``""`` if none), also after a redirect took it off."""
    header = request.headers.get("Authorization") or getattr(request, _STRIPPED, None) or ""
    return str(header).removeprefix("Bearer ")


def renewed_token(oauth: TokenProvider, refused: str) -> str | None:
    """After *refused* got a 401: discard it and resolve again; ``None`` if no new token.

    May block as `get_access_token` does. ``None`` means the same token came back
    (e.g. from the environment), so sending it again is pointless.

    Raises:
        ReauthorizationRequired: Nobody can sign on here.
    """
    oauth.discard_token(refused)
    token = oauth.get_access_token()
    return None if token == refused else token


class TickTickAuth(AuthBase):
    """A ``requests`` auth that sends the OAuth2 client's token, renewing it once on 401.

    Args:
        oauth: What holds the token: an `OAuth2` client or another `TokenProvider`.
        api_base_url: Only URLs under this base get the token; by default the Open API
            base of ``oauth``'s region (``https://api.ticktick.com/open/v1``).

    Raises:
        ConfigurationError: (when a request is prepared) its URL is outside
            ``api_base_url``; the token is not sent.
    """

    def __init__(self, oauth: TokenProvider, *, api_base_url: str | None = None) -> None:
        self.oauth = oauth
        self.api_base_url = (api_base_url or oauth.endpoints.api_base_url).rstrip("/")

    def __repr__(self) -> str:
        return f"TickTickAuth(api_base_url={self.api_base_url!r})"

    def _check_destination(self, url: str | None) -> None:
        check_destination(url or "", self.api_base_url, self.oauth.endpoints.host)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self._check_destination(request.url)
        request.headers["Authorization"] = f"Bearer {self.oauth.get_access_token()}"
        request.register_hook("response", self._handle_401)  # type: ignore[no-untyped-call]
        return request

    def _handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.is_redirect:
            self._strip_if_leaving(response)
        if response.status_code != 401 or getattr(request, _RETRIED, False):
            return response
        if request.body is not None and not isinstance(request.body, (bytes, str)):
            return response  # a streamed body cannot be sent twice
        refused = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        token = renewed_token(self.oauth, refused)  # may raise ReauthorizationRequired
        if token is None:
            return response  # the same token again (e.g. from the environment): no point
        logger().info("TickTick refused the token (HTTP 401); retrying once with a new one.")
        self._finish_refused(response, kwargs.get("timeout"))
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {token}"
        setattr(retry, _RETRIED, True)
        again: requests.Response = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again

    def _strip_if_leaving(self, response: requests.Response) -> None:
        """Before a redirect out of `api_base_url` is followed: take the token off.

        ``requests`` follows a redirect with a copy of this request, keeping its
        ``Authorization`` on the same host; without the header here, the copy has none.
        """
        target = urljoin(response.url, response.headers.get("Location") or "")
        try:
            leaving = not under_base(sent_url(target), self.api_base_url)
        except ConfigurationError:
            leaving = True
        if leaving:
            stripped = response.request.headers.pop("Authorization", None)
            setattr(response.request, _STRIPPED, stripped)

    def _finish_refused(self, response: requests.Response, timeout: object) -> None:
        """Read a small refused answer whole (its connection is then reused), close it.

        A body over `MAX_REFUSED_BODY` is not read: the connection is closed instead
        of drained (a server could send gigabytes). Failing to read it changes
        nothing: the retry goes on a new connection.
        """
        try:
            bound: Timeout = check_timeout(timeout)
        except ConfigurationError:  # None, or a urllib3 Timeout: this client's own
            bound = self.oauth.timeout
        try:
            body = read_body(response, MAX_REFUSED_BODY, bound)
        except requests.RequestException:
            return
        if len(body) <= MAX_REFUSED_BODY:
            response._content = body  # as requests keeps a body it has read
