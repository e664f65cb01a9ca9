"""What a sign-on is asked to do: `AuthorizationRequest`, and the `Authorizer` that does it."""

from __future__ import annotations

from typing import Protocol

from .._defaults import DEFAULT_SIGNON_TIMEOUT


class AuthorizationRequest:
    """One authorization attempt.

    Attributes:
        url: The authorize URL to open in a browser.
        state: The random value the redirect must carry back.
        redirect_uri: Where TickTick sends the browser afterwards.
        timeout: Seconds the person has to finish.
    """

    __slots__ = ("redirect_uri", "state", "timeout", "url")

    def __init__(
        self,
        url: str,
        state: str,
        redirect_uri: str,
        timeout: float = DEFAULT_SIGNON_TIMEOUT,
    ) -> None:
        self.url = url
        self.state = state
        self.redirect_uri = redirect_uri
        self.timeout = timeout

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthorizationRequest) and (
            self.url,
            self.state,
            self.redirect_uri,
            self.timeout,
        ) == (other.url, other.state, other.redirect_uri, other.timeout)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AuthorizationRequest(redirect_uri={self.redirect_uri!r}, timeout={self.timeout})"


class Authorizer(Protocol):
    """Gets an authorization code for a request, or raises a ``TickTickError``."""

    def __call__(self, request: AuthorizationRequest) -> str: ...
