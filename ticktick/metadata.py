"""The authorization server's metadata (RFC 8414), read only when a feature needs it.

TickTick publishes its metadata at ``https://ticktick.com/.well-known/oauth-authorization-server``
(observed in 2026, not documented). It is read with a short timeout (`METADATA_TIMEOUT`),
once per host for the process, and only by the features that need it (revocation,
``ticktick-auth doctor``): signing on never depends on it. Its absence, a malformed
answer or a slow server is no error: `server_metadata` says what it found, and the
feature decides.

A request to the authorization server like the token request, so it sits beside
:mod:`ticktick.exchange`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from ._defaults import Timeout, logger
from ._http.failures import connect_failure, never_sent, timed_out
from ._http.session import TimeoutHTTPAdapter, requests_retry_session, send_once
from .endpoints import Endpoints, is_loopback

__all__ = [
    "MAX_METADATA_SIZE",
    "METADATA_TIMEOUT",
    "WELL_KNOWN",
    "ServerMetadata",
    "clear_metadata_cache",
    "metadata_url",
    "server_metadata",
]

WELL_KNOWN = "/.well-known/oauth-authorization-server"
"""Where RFC 8414 puts the metadata, between the issuer's host and its path."""

METADATA_TIMEOUT = (3.0, 5.0)
"""The longest wait, in seconds, to connect and for the whole answer (a client's own
shorter timeout wins): a feature that asks is never held long by a slow server."""

MAX_METADATA_SIZE = 64 * 1024
"""The largest metadata answer read, in bytes."""


@dataclass(frozen=True)
class ServerMetadata:
    """What a server says of itself (RFC 8414), or why nothing usable was read.

    Attributes:
        url: Where the metadata was asked for.
        issuer: The server's issuer identifier, when read.
        revocation_endpoint: Its token revocation endpoint (RFC 7009), when advertised.
        code_challenge_methods: The PKCE methods it lists (``("S256",)``), if any.
        problem: Why no usable metadata was read (``None`` when it was): "HTTP 404",
            "not a JSON object", "timed out", ...
        status: The HTTP status of the answer, or ``None`` when none came.
        document: The whole metadata document, when read.
    """

    url: str
    issuer: str | None = None
    revocation_endpoint: str | None = None
    code_challenge_methods: tuple[str, ...] = ()
    problem: str | None = None
    status: int | None = None
    document: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def found(self) -> bool:
        """Whether usable metadata was read."""
        return self.problem is None

    @property
    def absent(self) -> bool:
        """Whether the server answered that it has none (HTTP 404 or 410)."""
        return self.status in (404, 410)


_cache: dict[str, ServerMetadata] = {}
_cache_lock = threading.Lock()


def clear_metadata_cache() -> None:
    """Forget the metadata read so far; the next `server_metadata` call asks again."""
    with _cache_lock:
        _cache.clear()


def _issuer(endpoints: Endpoints) -> str:
    """The issuer identifier the host's metadata must name: its base URL."""
    token_url = endpoints.token_url
    if token_url.endswith("/oauth/token"):
        return token_url[: -len("/oauth/token")]
    parts = urlsplit(token_url)
    return f"{parts.scheme}://{parts.netloc}"


def metadata_url(endpoints: Endpoints) -> str:
    """Where the metadata of *endpoints*' server is (RFC 8414 section 3.1)."""
    parts = urlsplit(_issuer(endpoints))
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{parts.path.rstrip('/')}"


def _short(timeout: Timeout) -> tuple[float, float]:
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (min(connect, METADATA_TIMEOUT[0]), min(read, METADATA_TIMEOUT[1]))


def server_metadata(
    endpoints: Endpoints,
    *,
    session: requests.Session | None = None,
    timeout: Timeout = METADATA_TIMEOUT,
) -> ServerMetadata:
    """The metadata of *endpoints*' server, read once per host for the process.

    Never raises for what the server does: a missing, malformed or slow answer gives
    a `ServerMetadata` whose ``problem`` says so. Only a definitive answer is kept for
    the process (usable metadata, or HTTP 404/410: none); anything else (a 5xx, a
    429, a bad document, a timeout, no connection) is not, so the next call asks again.

    Args:
        endpoints: The server's endpoints (``OAuth2.endpoints``).
        session: The ``requests`` session whose settings (proxies, certificates) are
            used; a plain one by default. Its retries do not apply: one try.
        timeout: At most this long, and never longer than `METADATA_TIMEOUT`.
    """
    url = metadata_url(endpoints)
    with _cache_lock:
        known = _cache.get(url)
    if known is not None:
        return known
    found = _read(url, _issuer(endpoints), session, _short(timeout))
    if found.found or found.absent:
        with _cache_lock:
            found = _cache.setdefault(url, found)
    if found.problem is not None:
        logger().debug("No usable server metadata at %s: %s.", url, found.problem)
    return found


def _read(
    url: str, issuer: str, session: requests.Session | None, timeout: tuple[float, float]
) -> ServerMetadata:
    session = session or requests_retry_session(retries=0, timeout=timeout)
    adapter: HTTPAdapter = TimeoutHTTPAdapter(max_retries=0, timeout=timeout)
    try:
        prepared = session.prepare_request(
            requests.Request("GET", url, headers={"Accept": "application/json"})
        )
        settings = session.merge_environment_settings(url, {}, True, None, None)
        response, body = send_once(adapter, prepared, settings, timeout, MAX_METADATA_SIZE)
    except requests.RequestException as exc:
        if never_sent(exc):
            why = f"could not connect ({connect_failure(exc)})"
        elif timed_out(exc):
            why = f"no answer within {timeout[1]:g} s"
        else:
            why = f"the connection failed ({type(exc).__name__})"
        return ServerMetadata(url, problem=why)
    finally:
        adapter.close()
    status = response.status_code
    if status != 200:
        return ServerMetadata(url, problem=f"HTTP {status}", status=status)
    return _parse(url, issuer, body, status)


def _parse(url: str, issuer: str, body: bytes, status: int) -> ServerMetadata:
    """Check the document as RFC 8414 asks (section 3.3: the issuer must be this host's)."""

    def bad(why: str) -> ServerMetadata:
        return ServerMetadata(url, problem=why, status=status)

    if len(body) > MAX_METADATA_SIZE:
        return bad(f"an answer larger than {MAX_METADATA_SIZE} bytes")
    try:
        document: object = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return bad("not JSON")
    if not isinstance(document, dict):
        return bad("not a JSON object")
    named = document.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        return bad(f"its issuer is not {issuer}")
    revocation = document.get("revocation_endpoint")
    if revocation is not None and not _usable_endpoint(revocation, issuer):
        return bad("its revocation_endpoint is not an https URL")
    methods = document.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        methods = []
    return ServerMetadata(
        url,
        issuer=named,
        revocation_endpoint=revocation,
        code_challenge_methods=tuple(methods),
        status=status,
        document=document,
    )


def _usable_endpoint(value: object, issuer: str) -> bool:
    """An https URL (or http on loopback, where the issuer is too), with no user part."""
    if not isinstance(value, str) or not value.isprintable() or " " in value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.hostname or "@" in parts.netloc or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    return (
        parts.scheme == "http"
        and is_loopback(parts.hostname)
        and is_loopback(urlsplit(issuer).hostname)
    )
