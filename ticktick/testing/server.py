"""A fake TickTick server (OAuth and Open API V1) for tests and demos.

`FakeTickTick` is a real HTTP server on ``127.0.0.1`` (a free port), written
with the standard library only. It behaves like TickTick's OAuth endpoints:

* ``GET /oauth/authorize`` renders a small sign-in page with **Allow** and **Deny**
  buttons (or, with ``auto_approve=True``, redirects straight back with a code);
* ``POST /oauth/authorize`` (the buttons) redirects to the ``redirect_uri`` with
  ``code`` and ``state``, or ``error=access_denied``;
* ``POST /oauth/token`` requires HTTP Basic client credentials, an exact
  ``redirect_uri`` match, a code that was never used and, when its authorization
  carried a PKCE ``code_challenge``, the matching ``code_verifier`` (RFC 7636); it
  answers errors in TickTick's JSON form;
* ``GET /.well-known/oauth-authorization-server`` serves the server's metadata
  (RFC 8414), advertising ``POST /oauth/revoke``, which revokes a token (RFC 7009);
* ``/open/v1/...`` serves the Open API V1 over in-memory projects and tasks
  ([`FakeOpenAPI`][ticktick.testing.openapi.FakeOpenAPI]), for bearer tokens it issued and
  that have not expired or been revoked (401 otherwise), and for personal API tokens
  it issued (`FakeTickTick.issue_api_token`) and that have not been revoked.

Every request is recorded (`FakeTickTick.requests`), and faults can be
injected per path or path prefix (`FakeTickTick.fail`): statuses,
``Retry-After``, HTML bodies, delays and dropped connections;
`FakeTickTick.limit_rate` answers like TickTick's rate limit.

Examples:
    >>> from ticktick.testing import FakeTickTick
    >>> with FakeTickTick() as fake:
    ...     oauth = fake.oauth2(cache_path=None)
    ...     token = oauth.get_access_token()
    ...     fake.token_requests
    1
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import html
import json
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from .._http.server import LoopbackHTTPServer
from ..endpoints import Endpoints
from ..errors import OAuthError, excerpt
from ..oauth2 import OAuth2
from ..signon import AuthorizationRequest, Authorizer, parse_redirect
from .openapi import FakeOpenAPI

__all__ = ["FakeTickTick", "Fault", "IssuedToken", "RecordedRequest", "approve"]

DEFAULT_CLIENT_ID = "fake-client-id"
# A test credential.
DEFAULT_CLIENT_SECRET = "fake-client-secret"  # noqa: S105 # nosec B105
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8080/"
DEFAULT_EXPIRES_IN = 15551999
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake server received."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    client_port: int = 0
    """The client's source port: requests on one kept-alive connection share it."""

    @property
    def target(self) -> str:
        """The request target as sent: path and query string."""
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass
class Fault:
    """A canned misbehaviour for the next request(s) to a path.

    Attributes:
        status: Answer with this status instead of the real answer.
        body: The body of that answer (JSON error by default).
        content_type: Its content type.
        headers: Extra headers, such as ``{"Retry-After": "1"}``.
        delay: Seconds to wait before answering.
        drop: Handle the request for real, then close the connection without answering
            (the server got the request; the client never hears back).
        truncate: Announce the whole body but send only its first half, then close.
        trickle: Send the body one byte every this many seconds (an answer that never
            finishes in practice), for at most 60 seconds.
        times: How many requests it applies to.
    """

    status: int | None = None
    body: str | bytes | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    trickle: float = 0.0
    times: int = 1


@dataclass(frozen=True)
class IssuedToken:
    """A token the fake server issued."""

    client_id: str
    scope: str
    expire_time: float


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None = None
    challenge_method: str = "plain"
    used: bool = False


@dataclass(frozen=True)
class _Client:
    secret: str
    redirect_uris: tuple[str, ...]


class FakeTickTick:
    """A fake TickTick OAuth server on 127.0.0.1, usable as a context manager.

    Args:
        client_id: The registered app's client id.
        client_secret: Its client secret.
        redirect_uris: Its registered redirect URIs (matched exactly).
        auto_approve: Approve every authorization at once, with no page.
        expires_in: Lifetime of issued tokens, in seconds.
        query_credentials: Also accept token requests that carry the client
            credentials and the form in the URL's query string, as TickTick does for
            older clients such as ticktick-py (for measuring them; off by default).
        port: The port to listen on; 0 (the default) takes a free one.
        ignore_pkce: Ignore ``code_challenge`` and ``code_verifier``, as a server
            without PKCE does (and leave PKCE out of the metadata).
        metadata: Serve the authorization-server metadata (RFC 8414); ``False``
            answers 404 there, as a server without it does.
        revocation: Advertise and serve the revocation endpoint (RFC 7009); ``False``
            leaves it out of the metadata and answers 404 there.
        redirect_check: Where a redirect URI that is not registered is refused:
            ``"authorize"`` (the default), on the authorization page, as TickTick's
            page does; or ``"token"``, where the page lets it through and the token
            endpoint answers HTTP 400 ``invalid_grant`` "Invalid redirect: X does not
            match one of the registered values: [Y]", as TickTick's token endpoint does.
    """

    on_start: ClassVar[list[Callable[[FakeTickTick], None]]] = []
    """Called with every server when it starts: lets a test suite observe all of them."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uris: Iterable[str] = (DEFAULT_REDIRECT_URI,),
        auto_approve: bool = False,
        expires_in: int = DEFAULT_EXPIRES_IN,
        query_credentials: bool = False,
        port: int = 0,
        ignore_pkce: bool = False,
        metadata: bool = True,
        revocation: bool = True,
        redirect_check: Literal["authorize", "token"] = "authorize",
    ) -> None:
        self.client_id = client_id
        self._port = port
        self.client_secret = client_secret
        self.auto_approve = auto_approve
        self.expires_in = expires_in
        self.query_credentials = query_credentials
        self.ignore_pkce = ignore_pkce
        self.metadata = metadata
        self.revocation = revocation
        self.verifiers: set[str] = set()
        """Every PKCE ``code_verifier`` received (secrets: the secrets audit watches them)."""
        self.redirect_check = redirect_check
        self.clients: dict[str, _Client] = {client_id: _Client(client_secret, tuple(redirect_uris))}
        self.requests: list[RecordedRequest] = []
        self.issued: dict[str, IssuedToken] = {}
        """Every token handed out, revoked ones included."""
        self.revoked: set[str] = set()
        self.api_tokens: set[str] = set()
        """Every personal API token handed out (`issue_api_token`), revoked ones included."""
        self.api = FakeOpenAPI()
        """The in-memory projects and tasks behind ``/open/v1``."""
        self._codes: dict[str, _Code] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        self._httpd: _Server | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> FakeTickTick:
        """Start serving on a free loopback port; return ``self``."""
        if self._httpd is not None:
            return self
        httpd = _Server(_Handler, port=self._port)
        httpd.fake = self
        self._httpd = httpd
        httpd.start()
        for callback in self.on_start:
            callback(self)
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.stop()

    def __enter__(self) -> FakeTickTick:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("FakeTickTick is not running; call start() or use 'with'.")
        return self._httpd.port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``; pass it as ``host=``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoints(self) -> Endpoints:
        """The server's endpoints, for ``OAuth2(host=...)``."""
        return Endpoints.from_base_url(self.url)

    # -- helpers for tests --------------------------------------------------------------

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str]
    ) -> None:
        """Register another app."""
        with self._lock:
            self.clients[client_id] = _Client(client_secret, tuple(redirect_uris))

    def fail(self, path: str, status: int | None = None, **options: Any) -> Fault:
        """Make the next request(s) to *path* misbehave; see `Fault` for options.

        A *path* ending in ``/`` matches every path below it (``"/open/v1/"``).

        Examples:
            >>> fake.fail("/oauth/token", 503, headers={"Retry-After": "1"})  # doctest: +SKIP
        """
        fault = Fault(status=status, **options)
        with self._lock:
            self._faults.setdefault(path, deque()).append(fault)
        return fault

    def limit_rate(self, times: int = 1, *, retry_after: int | None = None) -> Fault:
        """Answer the next *times* Open API requests as TickTick's rate limit does (429)."""
        body = json.dumps(
            {
                "errorId": "fake",
                "errorCode": "exceed_query_limit",
                "errorMessage": "exceed_query_limit",
                "data": None,
            }
        )
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return self.fail("/open/v1/", 429, body=body, headers=headers, times=times)

    def revoke(self, token: str) -> None:
        """Make the Open API refuse *token* (401) from now on."""
        with self._lock:
            self.revoked.add(token)

    def issue_api_token(self) -> str:
        """A new personal API token (``tp_...``) that the Open API accepts until `revoke`."""
        token = f"tp_{secrets.token_hex(32)}"
        with self._lock:
            self.api_tokens.add(token)
        return token

    def _token_valid(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        with self._lock:
            issued = self.issued.get(token)
            api_token = token in self.api_tokens
            revoked = token in self.revoked
        return (
            scheme.lower() == "bearer"
            and not revoked
            and (api_token or (issued is not None and issued.expire_time > time.time()))
        )

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            if not queue:
                prefixes = [
                    key for key in self._faults if key.endswith("/") and path.startswith(key)
                ]
                queue = self._faults.get(prefixes[0]) if prefixes else None
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            return fault

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests to *path*."""
        with self._lock:
            return [request for request in self.requests if request.path == path]

    @property
    def codes_issued(self) -> list[str]:
        """Every authorization code handed out."""
        with self._lock:
            return list(self._codes)

    @property
    def token_requests(self) -> int:
        """How many token requests were received."""
        return len(self.requests_to("/oauth/token"))

    def oauth2(self, **kwargs: Any) -> OAuth2:
        """An [`OAuth2`][ticktick.oauth2.OAuth2] for this server that approves by itself.

        Keyword arguments override the defaults (``client_id``, ``client_secret``,
        ``redirect_uri``, ``host``, ``authorizer``, ...).
        """
        settings: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uri": self.clients[self.client_id].redirect_uris[0],
            "host": self.url,
            "authorizer": self.approver(),
        }
        settings.update(kwargs)
        return OAuth2(**settings)

    def approver(self, decision: str = "allow", *, timeout: float = 10.0) -> Authorizer:
        """An authorizer that clicks *decision* (``"allow"`` or ``"deny"``) on the page.

        It posts the consent form over real HTTP, as a browser would, and reads the
        code from the redirect (see `approve`).
        """
        return functools.partial(approve, decision=decision, timeout=timeout)

    # -- OAuth logic, called by the handler ---------------------------------------------

    def _issue_code(self, params: Mapping[str, str]) -> str:
        code = secrets.token_urlsafe(6)
        challenge = None if self.ignore_pkce else params.get("code_challenge")
        method = params.get("code_challenge_method") or "plain"
        with self._lock:
            self._codes[code] = _Code(
                params["client_id"],
                params["redirect_uri"],
                params.get("scope", ""),
                challenge,
                method,
            )
        return code

    def _pkce_problem(self, params: Mapping[str, str]) -> str | None:
        """Why an authorize request's PKCE parameters are refused (RFC 7636 4.4.1), or None."""
        if self.ignore_pkce or "code_challenge" not in params:
            return None
        if params.get("code_challenge_method", "plain") not in ("S256", "plain"):
            return "transform algorithm not supported"
        if not _PKCE_VALUE.fullmatch(params["code_challenge"]):
            return "code_challenge is not 43 to 128 unreserved characters"
        return None

    def metadata_document(self) -> dict[str, Any]:
        """The server's metadata (RFC 8414), as served at its ``/.well-known`` address."""
        document: dict[str, Any] = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth/authorize",
            "token_endpoint": f"{self.url}/oauth/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "scopes_supported": ["tasks:read", "tasks:write"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
        if not self.ignore_pkce:
            document["code_challenge_methods_supported"] = ["S256"]
        if self.revocation:
            document["revocation_endpoint"] = f"{self.url}/oauth/revoke"
            document["revocation_endpoint_auth_methods_supported"] = ["client_secret_basic"]
        return document

    def _revoke_answer(
        self, authorization: str, content_type: str, form: Mapping[str, str]
    ) -> tuple[int, dict[str, Any] | None]:
        """RFC 7009: a client revokes a token it was issued; an unknown token is no error."""
        client_id = _basic_user(authorization, self.clients)
        if client_id is None:
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}
        if not content_type.startswith("application/x-www-form-urlencoded") or not form.get(
            "token"
        ):
            return 400, {"error": "invalid_request", "error_description": "token is missing"}
        token = form["token"]
        with self._lock:
            issued = self.issued.get(token)
            if issued is not None and issued.client_id != client_id:
                return 400, {
                    "error": "unauthorized_client",
                    "error_description": "The token was issued to another client",
                }
            if issued is not None:
                self.revoked.add(token)
        return 200, None

    def _check_authorize(self, params: Mapping[str, str]) -> str | None:
        """Say why an authorize request is invalid (shown as a page), or ``None``."""
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return "invalid_client: unknown client_id"
        if self.redirect_check == "authorize":
            return _redirect_problem(params.get("redirect_uri", ""), client)
        return None

    def _redirect_location(self, params: Mapping[str, str], result: Mapping[str, str]) -> str:
        query = dict(result)
        if "state" in params:
            query["state"] = params["state"]
        redirect_uri = params["redirect_uri"]
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(query)}"

    def _token_answer(
        self, authorization: str, content_type: str, form: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        client_id = _basic_user(authorization, self.clients)
        legacy = self.query_credentials and not authorization and "client_secret" in form
        if legacy:
            client = self.clients.get(form.get("client_id", ""))
            if client is not None and secrets.compare_digest(
                client.secret.encode(), form["client_secret"].encode()
            ):
                client_id = form["client_id"]
        if client_id is None:
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}
        if not legacy and not content_type.startswith("application/x-www-form-urlencoded"):
            return 400, {"error": "invalid_request", "error_description": "Form body expected"}
        if form.get("grant_type") != "authorization_code":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": f"Unsupported grant type: {form.get('grant_type')}",
            }
        code_value = form.get("code", "")
        verifier = form.get("code_verifier")
        with self._lock:
            if verifier is not None:
                self.verifiers.add(verifier)
            code = self._codes.get(code_value)
            if code is None or code.used or code.client_id != client_id:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": f"Invalid authorization code: {code_value}",
                }
            code.used = True
        if code.challenge is not None and not _pkce_verified(code, verifier):
            return 400, {
                "error": "invalid_grant",
                "error_description": "PKCE verification failed: the code_verifier is "
                + ("missing" if verifier is None else "not the one of the code_challenge"),
            }
        sent = form.get("redirect_uri", "")
        problem = _redirect_problem(sent, self.clients[client_id])
        if sent != code.redirect_uri or problem is not None:
            registered = list(self.clients[client_id].redirect_uris)
            return 400, {
                "error": "invalid_grant",
                "error_description": problem
                or (
                    f"Invalid redirect: {sent} does not match one of the registered values: "
                    f"{registered}"
                ),
            }
        token = str(uuid.uuid4())
        scope = " ".join(sorted(code.scope.split()))
        with self._lock:
            self.issued[token] = IssuedToken(client_id, scope, time.time() + self.expires_in)
        return 200, {
            "access_token": token,
            # The token type, not a password.
            "token_type": "bearer",  # nosec B105
            "expires_in": self.expires_in,
            "scope": scope,
        }


def _redirect_problem(redirect_uri: str, client: _Client) -> str | None:
    """TickTick's words for a redirect URI not registered for *client*, or ``None``."""
    if redirect_uri in client.redirect_uris:
        return None
    return (
        f"Invalid redirect: {redirect_uri} does not match one of the registered values: "
        f"{list(client.redirect_uris)}"
    )


def approve(request: AuthorizationRequest, decision: str = "allow", timeout: float = 10.0) -> str:
    """Click *decision* on a fake server's consent page for *request*; return the code.

    Usable as an ``authorizer`` in any process that can reach the fake server:
    ``OAuth2(..., authorizer=approve)``.

    Raises:
        OAuthError: The page answered with an error instead of a redirect.
        AccessDenied: *decision* was ``"deny"``.
    """
    parts = urlsplit(request.url)
    form = dict(parse_qsl(parts.query))
    form["decision"] = decision
    answer = requests.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        data=form,
        allow_redirects=False,
        timeout=timeout,
    )
    location = answer.headers.get("Location")
    if answer.status_code not in (302, 303) or not location:
        raise OAuthError(
            f"The authorize page answered HTTP {answer.status_code} instead of a "
            f"redirect: {excerpt(answer.text)!r}",
            status=answer.status_code,
        )
    return parse_redirect(location, request.state)


_PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
"""A code verifier, and a code challenge, as RFC 7636 allows them."""


def _pkce_verified(code: _Code, verifier: str | None) -> bool:
    """Whether *verifier* is the one whose challenge *code* was issued for (RFC 7636 4.6)."""
    if verifier is None or code.challenge is None or not _PKCE_VALUE.fullmatch(verifier):
        return False
    if code.challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    else:
        expected = verifier
    return secrets.compare_digest(expected.encode(), code.challenge.encode())


def _basic_user(header: str, clients: Mapping[str, _Client]) -> str | None:
    """The client id of valid HTTP Basic credentials, or ``None``."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client = clients.get(user)
    if client is None or not secrets.compare_digest(client.secret.encode(), password.encode()):
        return None
    return user


class _Server(LoopbackHTTPServer):
    fake: FakeTickTick

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (timeouts in tests); report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f5f7; margin: 0; }}
main {{ max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem;
        border-radius: 12px; box-shadow: 0 2px 12px #0002; }}
h1 {{ font-size: 1.3rem; margin-top: 0; }} label {{ display: block; margin: .6rem 0 .2rem; }}
input[type=email], input[type=password] {{ width: 100%; padding: .5rem; box-sizing: border-box; }}
button {{ padding: .6rem 1.4rem; margin: 1rem .5rem 0 0; border: 0; border-radius: 6px;
          font-size: 1rem; cursor: pointer; }}
#allow {{ background: #4772fa; color: #fff; }} #deny {{ background: #e4e6eb; }}
.error {{ color: #b00020; }}
</style></head><body><main>{body}</main></body></html>
"""


def _page(title: str, body: str) -> bytes:
    return _PAGE.format(title=html.escape(title), body=body).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "FakeTickTick/1.0"
    disable_nagle_algorithm = True  # headers and body go in two writes: avoid a 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:
        """Keep no access log: request lines carry codes."""

    # -- plumbing -----------------------------------------------------------------------

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(min(max(length, 0), MAX_BODY)) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(
        self, status: int, value: object, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(value).encode(), "application/json;charset=UTF-8", headers)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_partially(self, fault: Fault, data: bytes) -> None:
        """Announce *data* in full, then send half of it, or trickle it out."""
        self.send_response(fault.status or 200)
        self.send_header("Content-Type", fault.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault.truncate:
            self.wfile.write(data[: len(data) // 2])
            self._drop()
            return
        deadline = time.monotonic() + 60
        for index in range(len(data)):
            if time.monotonic() > deadline:
                break
            try:
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
            except OSError:
                return  # the client gave up: as it should
            time.sleep(fault.trickle)
        self._drop()

    def _handle(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        body = self._read_body()
        with fake._lock:
            fake.requests.append(
                RecordedRequest(
                    self.command,
                    parts.path,
                    parts.query,
                    dict(self.headers),
                    body,
                    int(self.client_address[1]),
                )
            )
        fault = fake._take_fault(parts.path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            payload = fault.body
            if payload is None:
                payload = json.dumps({"error": "server_error", "error_description": "Injected"})
            data = payload.encode() if isinstance(payload, str) else payload
            if fault.truncate or fault.trickle:
                self._send_partially(fault, data)
            else:
                self._send(fault.status, data, fault.content_type, fault.headers)
            return
        if fault is not None and fault.drop:
            self._route(parts.path, parts.query, body, answer=False)
            self._drop()
            return
        self._route(parts.path, parts.query, body, answer=True)

    def _route(self, path: str, query: str, body: bytes, *, answer: bool) -> None:
        fake = self.server.fake
        if path == "/oauth/authorize" and self.command in ("GET", "HEAD"):
            self._authorize_page(dict(parse_qsl(query)), answer)
        elif path == "/oauth/authorize" and self.command == "POST":
            self._authorize_decision(dict(parse_qsl(body.decode("utf-8", "replace"))), answer)
        elif path == "/oauth/token" and self.command == "POST":
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
            if fake.query_credentials and not form:
                form = dict(parse_qsl(query))
            status, value = fake._token_answer(
                self.headers.get("Authorization", ""), self.headers.get("Content-Type", ""), form
            )
            if answer:
                self._send_json(status, value)
        elif path == "/.well-known/oauth-authorization-server" and fake.metadata:
            if answer:
                self._send_json(200, fake.metadata_document())
        elif path == "/oauth/revoke" and self.command == "POST" and fake.revocation:
            revoked = fake._revoke_answer(
                self.headers.get("Authorization", ""),
                self.headers.get("Content-Type", ""),
                dict(parse_qsl(body.decode("utf-8", "replace"))),
            )
            if answer and revoked[1] is None:
                self._send(revoked[0], b"", "application/json")
            elif answer:
                self._send_json(*revoked)
        elif path == "/open/v1" or path.startswith("/open/v1/"):
            if not fake._token_valid(self.headers.get("Authorization", "")):
                status, value = (
                    401,
                    {
                        "error": "invalid_token",
                        "error_description": "The access token is missing, unknown or expired",
                    },
                )
            else:
                status, value = fake.api.handle(self.command, path[len("/open/v1") :], body)
            if answer and value is None:
                self._send(status, b"", "application/json")
            elif answer:
                self._send_json(status, value)
        elif answer:
            self._send_json(404, {"error": "not_found", "error_description": "No such endpoint"})

    def _authorize_page(self, params: dict[str, str], answer: bool) -> None:
        fake = self.server.fake
        problem = fake._check_authorize(params)
        if problem is not None:
            if answer:
                self._send(400, _error_page(problem), "text/html; charset=utf-8")
            return
        if params.get("response_type") != "code":
            if answer:
                self._redirect(
                    fake._redirect_location(params, {"error": "unsupported_response_type"})
                )
            return
        pkce_problem = fake._pkce_problem(params)
        if pkce_problem is not None:
            if answer:
                self._redirect(
                    fake._redirect_location(
                        params, {"error": "invalid_request", "error_description": pkce_problem}
                    )
                )
            return
        if fake.auto_approve:
            code = fake._issue_code(params)
            if answer:
                self._redirect(fake._redirect_location(params, {"code": code}))
            return
        if answer:
            self._send(200, _consent_page(params), "text/html; charset=utf-8")

    def _authorize_decision(self, form: dict[str, str], answer: bool) -> None:
        fake = self.server.fake
        decision = form.pop("decision", "")
        problem = fake._check_authorize(form)
        if problem is not None:
            if answer:
                self._send(400, _error_page(problem), "text/html; charset=utf-8")
            return
        pkce_problem = fake._pkce_problem(form)
        if decision == "allow" and pkce_problem is None:
            code = fake._issue_code(form)
            result = {"code": code}
        elif decision == "allow":
            result = {"error": "invalid_request", "error_description": str(pkce_problem)}
        else:
            result = {"error": "access_denied", "error_description": "The user denied access"}
        if answer:
            self._redirect(fake._redirect_location(form, result))

    def do_GET(self) -> None:
        """Serve a GET."""
        self._handle()

    def do_HEAD(self) -> None:
        """Serve a HEAD."""
        self._handle()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Serve a PUT."""
        self._handle()

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
        self._handle()


def _error_page(problem: str) -> bytes:
    return _page(
        "Error", f'<h1>Authorization error</h1><p class="error">{html.escape(problem)}</p>'
    )


def _consent_page(params: Mapping[str, str]) -> bytes:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in params.items()
    )
    scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in params.get("scope", "").split())
    body = (
        "<h1>Sign in to TickTick (fake)</h1>"
        '<form method="post" action="/oauth/authorize">'
        f"{hidden}"
        '<label for="email">Email</label>'
        '<input id="email" type="email" name="email" value="person@example.com">'
        '<label for="password">Password</label>'
        '<input id="password" type="password" name="password" value="password">'
        f"<p><b>{html.escape(params.get('client_id', ''))}</b> would like to:</p><ul>{scopes}</ul>"
        '<button id="allow" type="submit" name="decision" value="allow">Allow</button>'
        '<button id="deny" type="submit" name="decision" value="deny">Deny</button>'
        "</form>"
    )
    return _page("Authorize - TickTick (fake)", body)
