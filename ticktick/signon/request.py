"""What a sign-on is asked to do: `AuthorizationRequest`, and the `Authorizer` that does it.

Also the PKCE pair (RFC 7636) of a sign-on: `new_code_verifier` and its S256
`code_challenge`. The challenge goes in the authorize URL; the verifier stays with
the request (never in a URL, a message or a ``repr``) until the token request sends it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Protocol

from .._defaults import DEFAULT_SIGNON_TIMEOUT

VERIFIER_BYTES = 48
"""Random bytes in a code verifier: 64 characters once base64url-encoded (RFC 7636 asks
for 43 to 128 of the unreserved set, which ``secrets.token_urlsafe``'s alphabet is part of)."""


def new_code_verifier() -> str:
    """A fresh PKCE code verifier: 64 characters of ``[A-Za-z0-9_-]`` from `secrets`."""
    return secrets.token_urlsafe(VERIFIER_BYTES)


def code_challenge(verifier: str) -> str:
    """The S256 code challenge of *verifier*: base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class AuthorizationRequest:
    """One authorization attempt.

    Attributes:
        url: The authorize URL to open in a browser.
        state: The random value the redirect must carry back.
        redirect_uri: Where TickTick sends the browser afterwards.
        timeout: Seconds the person has to finish.
        code_verifier: The PKCE verifier whose challenge *url* carries, or ``None``
            without PKCE. A secret: never shown, never in a URL; only the token
            request sends it.
    """

    __slots__ = ("code_verifier", "redirect_uri", "state", "timeout", "url")

    def __init__(
        self,
        url: str,
        state: str,
        redirect_uri: str,
        timeout: float = DEFAULT_SIGNON_TIMEOUT,
        code_verifier: str | None = None,
    ) -> None:
        self.url = url
        self.state = state
        self.redirect_uri = redirect_uri
        self.timeout = timeout
        self.code_verifier = code_verifier

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthorizationRequest) and (
            self.url,
            self.state,
            self.redirect_uri,
            self.timeout,
            self.code_verifier,
        ) == (other.url, other.state, other.redirect_uri, other.timeout, other.code_verifier)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        pkce = ", pkce=True" if self.code_verifier is not None else ""
        return (
            f"AuthorizationRequest(redirect_uri={self.redirect_uri!r}, "
            f"timeout={self.timeout}{pkce})"
        )


class Authorizer(Protocol):
    """Gets an authorization code for a request, or raises a ``TickTickError``."""

    def __call__(self, request: AuthorizationRequest) -> str: ...
