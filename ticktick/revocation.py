"""Token revocation (RFC 7009), only where the server's metadata advertises it.

TickTick documents no revocation endpoint; one secondary source reports one. So a
token is revoked only at the ``revocation_endpoint`` that the server's metadata
(:mod:`ticktick.metadata`) names, never at a guessed address: a ``POST`` of
``token`` and ``token_type_hint=access_token``, with the client authenticated as
for the token request (HTTP Basic only). A server that advertises none is said to,
plainly; a revocation is claimed only when the endpoint answered 200 without an OAuth
``error`` in its body.

`OAuth2.revoke` and ``ticktick-auth logout --revoke`` remove the token here only
after that; when the revocation fails they keep it, so that it can be tried again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests
from requests.auth import HTTPBasicAuth

from ._defaults import DEFAULT_TIMEOUT, Timeout
from ._http.failures import connect_failure, never_sent, timed_out
from ._http.session import TimeoutHTTPAdapter, requests_retry_session, send_once, token_retry
from .endpoints import Endpoints
from .errors import RevocationFailed, excerpt, redact
from .metadata import server_metadata

__all__ = ["MAX_REVOCATION_ANSWER", "Revocation", "revoke_token"]

MAX_REVOCATION_ANSWER = 64 * 1024
"""The largest revocation answer read, in bytes."""


@dataclass(frozen=True)
class Revocation:
    """What a revocation did at the server.

    Attributes:
        revoked: Whether the server confirmed that it revoked the token (its
            revocation endpoint answered 200, with no OAuth ``error`` in the body).
        endpoint: The revocation endpoint used, or ``None``.
        reason: Why the token was not revoked at the server (``None`` when it was).
    """

    revoked: bool
    endpoint: str | None = None
    reason: str | None = None


def revoke_token(
    *,
    endpoints: Endpoints,
    client_id: str,
    client_secret: str,
    token: str,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    kept_advice: str = "",
) -> Revocation:
    """Revoke *token* at the revocation endpoint *endpoints*' server advertises.

    Args:
        endpoints: The server's endpoints; its metadata says where to revoke.
        client_id: The app's client id (HTTP Basic, as for the token request).
        client_secret: The app's client secret (only in the Basic header).
        token: The access token to revoke.
        session: The ``requests`` session whose settings are used.
        timeout: Of each request (the metadata's is shorter, see `METADATA_TIMEOUT`).
        kept_advice: Ends a `RevocationFailed` message: where the token is still
            kept and how to try again.

    Returns:
        `Revocation` with ``revoked=True``, or ``revoked=False`` and the reason when
        the server advertises no revocation endpoint (its metadata names none, or it
        has none: HTTP 404).

    Raises:
        RevocationFailed: The token was not confirmed revoked: the metadata could
            not be read, or the revocation request failed (its status and error).
    """
    session = session or requests_retry_session(retries=0, timeout=timeout)
    metadata = server_metadata(endpoints, session=session, timeout=timeout)
    tail = f" {kept_advice}" if kept_advice else ""
    if metadata.absent or (metadata.found and metadata.revocation_endpoint is None):
        where = (
            f"publishes no server metadata ({metadata.problem} at {metadata.url})"
            if metadata.absent
            else f"advertises no revocation endpoint in its metadata ({metadata.url})"
        )
        return Revocation(
            False,
            reason=f"{endpoints.host} {where}, so the token could not be revoked there: it "
            "stays valid at the server until it expires.",
        )
    if metadata.revocation_endpoint is None:
        raise RevocationFailed(
            f"Could not learn whether {endpoints.host} can revoke tokens: its metadata at "
            f"{metadata.url} could not be used ({metadata.problem}). The token was not "
            f"revoked.{tail}"
        )
    url = metadata.revocation_endpoint
    _post(session, url, client_id, client_secret, token, timeout, tail)
    return Revocation(True, endpoint=url)


def _post(
    session: requests.Session,
    url: str,
    client_id: str,
    client_secret: str,
    token: str,
    timeout: Timeout,
    tail: str,
) -> None:
    """POST the revocation request; return when the server answered 200."""
    request = requests.Request(
        "POST",
        url,
        data={"token": token, "token_type_hint": "access_token"},  # nosec B105 - a hint
        auth=HTTPBasicAuth(client_id, client_secret),
        headers={"Accept": "application/json"},
    )
    adapter = TimeoutHTTPAdapter(max_retries=token_retry(), timeout=timeout)
    try:
        prepared = session.prepare_request(request)
        settings = session.merge_environment_settings(url, {}, True, None, None)
    except (requests.RequestException, ValueError):
        raise RevocationFailed(
            f"The revocation request to {url} cannot be made from these settings (the "
            f"client id?). Nothing was sent; the token was not revoked.{tail}"
        ) from None
    basic = str(prepared.headers.get("Authorization", "")).removeprefix("Basic ")
    secrets = (token, client_secret, f"{client_id}:{client_secret}", basic)
    try:
        response, body = send_once(adapter, prepared, settings, timeout, MAX_REVOCATION_ANSWER)
    except requests.RequestException as exc:
        if never_sent(exc):
            what = f"could not connect ({connect_failure(exc)}); the token was not revoked"
        elif timed_out(exc):
            what = "did not answer in time; the token may or may not be revoked"
        else:
            what = f"broke off ({type(exc).__name__}); the token may or may not be revoked"
        raise RevocationFailed(f"The revocation request to {url} {what}.{tail}") from None
    finally:
        adapter.close()
    status = response.status_code
    text = body[:MAX_REVOCATION_ANSWER].decode("utf-8", errors="replace")
    try:
        parsed: object = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    said_error = isinstance(parsed, dict) and isinstance(parsed.get("error"), str)
    if status == 200 and not said_error:
        return
    error = description = None
    if isinstance(parsed, dict):
        if isinstance(parsed.get("error"), str):
            error = redact(parsed["error"], secrets) or None
        if isinstance(parsed.get("error_description"), str):
            description = redact(parsed["error_description"], secrets) or None
    if error:
        said = f": {error}" + (f" ({description})" if description else "")
    else:
        said = f": {excerpt(text, secrets)!r}" if text.strip() else ""
    failed = "answered HTTP 200 with an error" if status == 200 else f"failed with HTTP {status}"
    raise RevocationFailed(
        f"The revocation request to {url} {failed}{said}. The token was not revoked.{tail}",
        status=status,
        error=error,
        error_description=description,
    )
