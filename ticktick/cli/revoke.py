"""``ticktick-auth logout --revoke``: revoke the stored token at the server, then remove it.

Revokes only where the server's metadata advertises a revocation endpoint (see
:mod:`ticktick.revocation`), and says plainly when it advertises none. A failed
revocation leaves the token in its store, so that it can be tried again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..apitoken import where_to_create
from ..endpoints import resolve_host
from ..errors import RevocationFailed
from ..resolution import where
from ..stores import FileStore
from ..token import is_api_token
from .commands import _command
from .output import Failure, _show

if TYPE_CHECKING:
    from ..stores import TokenStore
    from .output import Options


def _client_id(args: Options, store: TokenStore) -> str:
    """The app's client id: ``--client-id``, else the one recorded with the stored token."""
    if args.client_id:
        return str(args.client_id)
    identity = store.recorded_identity() if isinstance(store, FileStore) else None
    if identity is not None and identity.client_id:
        return identity.client_id
    raise Failure(
        "--revoke needs the app's client id, which the token was not stored with: give "
        "--client-id (or set TICKTICK_CLIENT_ID). Nothing was revoked or removed."
    )


def _client_secret(timeout: float) -> str:
    """$TICKTICK_CLIENT_SECRET, else asked for without echo where there is a terminal.

    The prompt gives up after *timeout* seconds (``--timeout``).
    """
    secret = os.environ.get("TICKTICK_CLIENT_SECRET", "").strip()
    if secret:
        return secret
    from ..errors import AuthorizationTimeout, ReauthorizationRequired
    from ..signon import no_terminal_reason
    from ..signon.terminal import read_hidden_line

    if no_terminal_reason() is None:
        try:
            secret = read_hidden_line("Enter your client_secret: ", timeout).strip()
        except AuthorizationTimeout:
            raise Failure(
                f"No client secret entered within {timeout:g} s (--timeout). Nothing was "
                "revoked or removed."
            ) from None
        except ReauthorizationRequired:  # input closed, or not text
            secret = ""  # nosec B105 - no secret given
    if not secret:
        raise Failure(
            "--revoke authenticates the app as the token request does, so it needs the "
            "client secret: set TICKTICK_CLIENT_SECRET (or answer the prompt in a "
            "terminal). Nothing was revoked or removed."
        )
    return secret


def _revoke_stored(args: Options, store: TokenStore) -> str | None:
    """Revoke the token in *store* at its server, or say why not; raise when it failed.

    Returns the access token it dealt with (``None`` when there was none): the caller
    removes that one afterwards (``store.discard``), not one written meanwhile; on a
    failure (`Failure`) it must remove nothing.
    """
    from ..revocation import revoke_token

    token = store.read()
    if token is None:
        return None  # nothing to revoke: logout says there is no token
    endpoints = resolve_host(args.host)
    if is_api_token(token):
        _show(
            "Not revoked: a personal API token is revoked only by TickTick's settings "
            f"(delete it {where_to_create(endpoints.host)}); it is removed here only."
        )
        return str(token["access_token"])
    again = _command(args, "logout")
    kept = (
        f"The token is still in {where(store)}: run '{again} --revoke' again later, or "
        f"'{again}' to remove it here without revoking it."
    )
    try:
        result = revoke_token(
            endpoints=endpoints,
            client_id=_client_id(args, store),
            client_secret=_client_secret(args.timeout),
            token=token["access_token"],
            kept_advice=kept,
        )
    except RevocationFailed as exc:
        raise Failure(str(exc)) from None
    if result.revoked:
        _show(f"Revoked the token at {result.endpoint}.")
    else:
        _show(f"Not revoked: {result.reason}")
    return str(token["access_token"])
