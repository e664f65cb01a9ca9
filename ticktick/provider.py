"""The token-provider interface: what `TickTickAuth` and `OpenAPI` need from a token.

An [`OAuth2`][ticktick.oauth2.OAuth2] client follows it, and so can anything else that
holds a token for the Open API. Nothing inherits from `TokenProvider`: it is a
``typing.Protocol``, checked by mypy, so a class follows it by having these members.

The interface is small on purpose. A consumer may:

- ask for a valid token (`get_access_token`), which may block: read a store under a
  lock, wait for another process, or wait for a person;
- ask for the token in memory only (`token_in_memory`), which never blocks (an async
  client's hot path);
- report a refused token (`discard_token`), so that the next `get_access_token`
  does not return it again;
- read where the token is valid (`endpoints`), the timeout and session of its
  requests, where the current token came from (`token_source`) and what a person should
  do when no token works (`renewal_advice`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import requests

    from ._defaults import Timeout
    from .endpoints import Endpoints

__all__ = ["TokenProvider"]


class TokenProvider(Protocol):
    """What an Open API client needs from whatever keeps its token."""

    @property
    def endpoints(self) -> Endpoints:
        """The region the token is valid in (its Open API base URL)."""
        ...

    @property
    def timeout(self) -> Timeout:
        """The default timeout of a request made with this token."""
        ...

    @property
    def session(self) -> requests.Session:
        """The ``requests`` session for requests made with this token."""
        ...

    @property
    def token_source(self) -> str | None:
        """Where the current token came from, for messages (never the token itself)."""
        ...

    def get_access_token(self) -> str:
        """A valid access token; may block (store, lock, another process, a person)."""
        ...

    def token_in_memory(self) -> str | None:
        """The token held in memory if it is still valid, else ``None``; never blocks."""
        ...

    def discard_token(self, access_token: str) -> None:
        """Forget *access_token* (the server refused it), wherever it is kept."""
        ...

    def renewal_advice(self) -> str:
        """What a person should do to get a working token, as a sentence's end."""
        ...
