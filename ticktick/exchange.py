"""The token request: an authorization code exchanged for a token, over HTTP.

TickTick documents it as a form POST (``code``, ``grant_type``, ``scope``,
``redirect_uri``, and with PKCE ``code_verifier``) with the client credentials in an
HTTP Basic header; they never appear in the URL. A code works once, so the request is
retried only when the server cannot have used it (connection refused, 429, 503), and
the answer, read within a size limit and an overall deadline, becomes a token or a
typed error.

Kept apart from :mod:`ticktick.oauth2` so that resolving a cached token never
imports ``requests``.
"""

from __future__ import annotations

import json

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth

from ._defaults import Timeout
from ._http.failures import connect_failure, never_sent, showable, timed_out
from ._http.session import (
    TimeoutHTTPAdapter,
    send_once,
    token_retry,
)
from .endpoints import find_redirect_mismatch
from .errors import (
    ConfigurationError,
    OAuthError,
    TokenFormatError,
    TransportError,
    argument,
    excerpt,
    oauth_error,
)
from .token import TokenDict, token_from_response

__all__ = ["MAX_RESPONSE_SIZE", "exchange_code", "token_adapter"]

MAX_RESPONSE_SIZE = 1024 * 1024
"""The largest token endpoint answer read, in bytes."""


def token_adapter(timeout: Timeout) -> HTTPAdapter:
    """The transport adapter for token requests, with their strict retry policy."""
    return TimeoutHTTPAdapter(max_retries=token_retry(), timeout=timeout)


def exchange_code(
    *,
    session: requests.Session,
    adapter: HTTPAdapter,
    token_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    scope: str,
    redirect_uri: str,
    timeout: Timeout,
    code_verifier: str | None = None,
) -> TokenDict:
    """Exchange *code* for a token at *token_url*; see the module's notes.

    *session* supplies the caller's settings (proxies, certificates, headers);
    *adapter* sends the request, so that the session's own retries never apply.
    *code_verifier*, the PKCE verifier of the code's authorization, is sent in the
    form when given (RFC 7636) and redacted like the code.

    Raises:
        ConfigurationError: The request cannot be made from these settings (a URL or
            client id that ``requests`` refuses); nothing was sent.
        OAuthError: The server refused (``InvalidGrant``, ``InvalidClient``, ...);
            ``RedirectUriMismatch`` (an ``InvalidGrant``) when it says the redirect URI
            is not a registered one, naming the one to use.
        TokenFormatError: The server's answer is not a token.
        TransportError: The server could not be reached or did not answer in time.
    """
    url = token_url
    form = {
        "code": code,
        "grant_type": "authorization_code",
        "scope": scope,
        "redirect_uri": redirect_uri,
    }
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    request = requests.Request(
        "POST",
        url,
        data=form,
        auth=HTTPBasicAuth(client_id, client_secret),
        headers={"Accept": "application/json"},
    )
    try:
        prepared = session.prepare_request(request)
        settings = session.merge_environment_settings(url, {}, True, None, None)
    except (requests.RequestException, ValueError) as exc:
        # ValueError: e.g. a client id that HTTP Basic cannot carry (not latin-1). Its
        # text may quote the credentials, so only an invalid URL's is shown.
        why = f": {exc}" if isinstance(exc, requests.exceptions.InvalidURL) else ""
        raise ConfigurationError(
            f"The token request to {url} cannot be made ({type(exc).__name__}{why}). Check "
            f"{argument('host')} and the client id. The code was not sent: it stays good until "
            "it expires."
        ) from None
    # The Basic credential, "id:secret" and the header's base64 of it, is redacted with
    # the code and the secret, in every spelling (see ticktick.errors.redact).
    basic = str(prepared.headers.get("Authorization", "")).removeprefix("Basic ")
    secret_values = (code, client_secret, f"{client_id}:{client_secret}", basic, code_verifier)
    try:
        response, body = send_once(adapter, prepared, settings, timeout, MAX_RESPONSE_SIZE)
    except requests.RequestException as exc:
        raise _transport_error(exc, url) from (exc if showable(exc) else None)
    return _token_or_error(response.status_code, body, url, secret_values)


def _transport_error(exc: requests.RequestException, url: str) -> TransportError:
    """Say whether the code was sent, which decides whether it may have been used."""
    if never_sent(exc):
        return TransportError(
            f"Could not connect to {url} ({connect_failure(exc)}). The token request was never "
            "sent, so the code was not used and stays good until it expires. Check the "
            f"network, any proxy (HTTPS_PROXY), and {argument('host')}, then try again."
        )
    if timed_out(exc):
        return TransportError(
            f"{url} did not answer in time after the code was sent; the code may have been "
            "used. Authorize again."
        )
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return TransportError(
            f"The connection to {url} broke after the code was sent "
            f"({type(exc).__name__}); the code may have been used. Authorize again."
        )
    return TransportError(
        f"The token request to {url} failed ({type(exc).__name__}). Authorize again."
    )


def _token_or_error(
    status: int, body: bytes, url: str, secret_values: tuple[str | None, ...]
) -> TokenDict:
    """Turn the token endpoint's answer into a token or a typed error.

    *secret_values* (the code, the client secret, ``client_id:client_secret``, the PKCE
    verifier) and any token the answer carries are redacted, in every spelling, from the
    error's message.
    """
    what = f"The token request to {url}"
    if len(body) > MAX_RESPONSE_SIZE:
        raise TokenFormatError(
            f"{what} got an answer larger than {MAX_RESPONSE_SIZE} bytes (HTTP {status}); it "
            f"cannot be a token. Check {argument('host')}."
        )
    text = body.decode("utf-8", errors="replace")
    try:
        parsed: object = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict):
        secret_values += tuple(
            value
            for key in ("access_token", "refresh_token", "id_token")
            if isinstance(value := parsed.get(key), str)
        )
    if 200 <= status < 300:
        if not isinstance(parsed, dict):
            raise TokenFormatError(
                f"{what} answered HTTP {status} with a body that is not a JSON object: "
                f"{excerpt(text, secret_values)!r}. Check {argument('host')}, then authorize "
                "again."
            )
        return token_from_response(parsed)
    error = description = None
    if isinstance(parsed, dict):
        raw_error, raw_description = parsed.get("error"), parsed.get("error_description")
        error = raw_error if isinstance(raw_error, str) else None
        description = raw_description if isinstance(raw_description, str) else None
    failure: OAuthError = oauth_error(
        what=what,
        status=status,
        error=error,
        error_description=description,
        body_excerpt=excerpt(text, secret_values) if error is None else None,
        secrets=secret_values,
    )
    if failure.error == "invalid_grant" and failure.error_description:
        # "Invalid redirect: X does not match one of the registered values: [Y]": the
        # same advice as for the pasted page (redacted text only: no secret in it).
        mismatch = find_redirect_mismatch(
            failure.error_description,
            status=status,
            error=failure.error,
            error_description=failure.error_description,
        )
        if mismatch is not None:
            raise mismatch
    raise failure
