"""The store interface, the identity a token was issued for, and the stored form.

Every store follows `TokenStore`; every stored token carries an ``issued_for``
record (`TokenIdentity`: host, client id, scope; or host and kind for a personal
API token) and is returned only to a client of that identity; `encode_token` and
`decode_token` are the one stored form.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod

from .._defaults import logger
from ..errors import ConfigurationError, argument
from ..token import API_TOKEN_KIND, TokenDict, token_problem, validate_token_dict

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AbstractContextManager
    from typing import Any

LEGACY_HOST = "ticktick.com"
"""The host of a token stored without an ``issued_for`` record (ticktick-py knows no other)."""

MAX_CACHE_SIZE = 1024 * 1024
"""The largest stored token read, in bytes: anything larger is not a token."""

ISSUED_FOR = "issued_for"
"""The key of the record, stored beside a token, of what it was issued for."""


def normalize_scope(scope: str) -> str:
    """Return *scope* with its words sorted and de-duplicated."""
    return " ".join(sorted(set(scope.split())))


class TokenIdentity:
    """What a token was issued for: the host, the app (client id) and the scope.

    ``None`` for the client id or the scope matches any (for readers that do not
    know them, such as ``ticktick-auth token``); a writer must know all three.

    A personal API token belongs to no app: its identity (`TokenIdentity.api_token`)
    is its host and the kind ``api_token``, recorded as ``{"host": ..., "kind":
    "api_token"}``. It matches only a token recorded so, and no client with a
    client id matches that token (a reader with no client id, such as ``ticktick-auth
    token``, finds either kind).
    """

    __slots__ = ("client_id", "host", "kind", "scope")

    host: str
    client_id: str | None
    scope: str | None
    kind: str | None
    """``"api_token"`` for a personal API token; ``None`` for an OAuth token."""

    def __init__(
        self, host: str, client_id: str | None, scope: str | None, kind: str | None = None
    ) -> None:
        if kind not in (None, API_TOKEN_KIND):
            raise ValueError(f"unknown token kind {kind!r}")
        if kind is not None:
            client_id = scope = None  # no app, no scope: the host and the kind say it all
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "scope", None if scope is None else normalize_scope(scope))
        object.__setattr__(self, "kind", kind)

    @classmethod
    def api_token(cls, host: str) -> TokenIdentity:
        """The identity of a personal API token for *host*."""
        return cls(host, None, None, API_TOKEN_KIND)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TokenIdentity is immutable")

    def __reduce__(
        self,
    ) -> tuple[type[TokenIdentity], tuple[str, str | None, str | None, str | None]]:
        # Pickle by the constructor: the default would set the slots one by one.
        return (type(self), (self.host, self.client_id, self.scope, self.kind))

    def __copy__(self) -> TokenIdentity:
        return self  # immutable: a copy is the same value

    def __deepcopy__(self, memo: dict[int, object]) -> TokenIdentity:
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenIdentity) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.host, self.client_id, self.scope, self.kind))

    def __repr__(self) -> str:
        if self.kind is not None:
            return f"TokenIdentity.api_token({self.host!r})"
        return f"TokenIdentity({self.host!r}, {self.client_id!r}, {self.scope!r})"

    def require_full(self, store: str) -> tuple[str, str, str]:
        """``(host, client_id, scope)``, all known, or a clear error naming *store*.

        For a personal API token: ``(host, "", "api_token")``, which no app's identity
        can be (a client id is never empty), so its key in a store is its own.
        """
        if self.kind is not None:
            return self.host, "", self.kind
        if self.client_id is None or self.scope is None:
            raise ConfigurationError(
                f"The {store} needs the client id and scope to find the token "
                "(pass --client-id, or use it through OAuth2)."
            )
        return self.host, self.client_id, self.scope

    def as_dict(self) -> dict[str, str | None]:
        """The ``issued_for`` object stored beside the token."""
        if self.kind is not None:
            return {"host": self.host, "kind": self.kind}
        return {"host": self.host, "client_id": self.client_id, "scope": self.scope}

    def mismatch(self, stored: Mapping[str, Any]) -> str | None:
        """Say why a stored token does not belong to this identity, or ``None`` if it does."""
        issued_for = stored.get(ISSUED_FOR)
        stored_kind = issued_for.get("kind") if isinstance(issued_for, dict) else None
        if self.kind is not None or stored_kind is not None:
            return self._kind_mismatch(issued_for, stored_kind)
        if issued_for is None:  # written by ticktick-py
            if self.host != LEGACY_HOST:
                return f"it has no host recorded, so it is taken as issued for {LEGACY_HOST}"
            granted = stored.get("scope")
            if (
                self.scope is not None
                and isinstance(granted, str)
                and not set(self.scope.split()) <= set(granted.split())
            ):
                return f"its scope {granted!r} does not cover {self.scope!r}"
            return None
        if not isinstance(issued_for, dict):
            return "its 'issued_for' field is not an object"
        for field, wanted in self.as_dict().items():
            if wanted is None:
                continue
            have = issued_for.get(field)
            if field == "scope" and isinstance(have, str):
                have = normalize_scope(have)
            if have != wanted:
                return f"it was issued for {field} {have!r}, not {wanted!r}"
        return None

    def _kind_mismatch(self, issued_for: object, stored_kind: object) -> str | None:
        """`mismatch` where this identity or the stored token is a personal API token."""
        if stored_kind != self.kind:
            if self.kind is not None:
                return "it is an app's OAuth token, not a personal API token"
            if stored_kind != API_TOKEN_KIND:
                return f"it was issued for a token kind {stored_kind!r} this version does not know"
            if self.client_id is not None:
                return f"it is a personal API token, not a token of the app {self.client_id!r}"
        assert isinstance(issued_for, dict)  # noqa: S101 - a kind is only read from a dict
        have = issued_for.get("host")
        if have != self.host:
            return f"it was issued for host {have!r}, not {self.host!r}"
        return None


class TokenStore(ABC):
    """Where a token is kept: the interface every store follows.

    Attributes:
        identity: What the token must have been issued for. A store given to
            ``OAuth2`` without one is bound to that client's (`bind_identity`).
        read_only: Whether `write` is refused (the environment).
    """

    identity: TokenIdentity | None = None
    read_only = False

    @abstractmethod
    def read(self) -> TokenDict | None:
        """The stored token for `identity`, or ``None``; unusable data is set aside."""

    @abstractmethod
    def write(self, token: Mapping[str, Any]) -> None:
        """Store *token* (atomically: readers see the old token or the new one)."""

    @abstractmethod
    def delete(self) -> bool:
        """Remove the stored token; return whether there was one."""

    @abstractmethod
    def discard(self, access_token: str) -> bool:
        """Remove the stored token if it is *access_token* (refused by the server)."""

    @abstractmethod
    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """Hold the store's "only one authorizes" lock, waiting at most *timeout* seconds.

        Raises:
            TokenCacheError: The wait timed out or the store cannot be reached.
        """

    @abstractmethod
    def describe(self) -> str:
        """Where the token lives, for messages (never a password)."""

    def cli_options(self) -> list[str] | None:
        """The ``ticktick-auth`` options that select this store, or ``None`` if none can.

        `OAuth2.login_command` and its advice print them, so that the command keeps
        its token where this store reads it (e.g. ``["--store", "redis", "--redis-url",
        URL]``); never a password. ``None`` (this default) says the command cannot
        reach this store (memory, the environment, a store of your own): the advice
        then has the command print the token for ``env_key`` instead.
        """
        return None

    # ticktick-py's CacheHandler names, so code written for it keeps working.

    def get_cached_token(self) -> TokenDict | None:
        """ticktick-py's name for `read`."""
        return self.read()

    def write_token_to_cache(self, token: Mapping[str, Any]) -> None:
        """ticktick-py's name for `write`."""
        self.write(token)


def encode_token(token: Mapping[str, Any], identity: TokenIdentity | None) -> bytes:
    """The stored form of *token*: JSON with the ``issued_for`` record of *identity*."""
    data: dict[str, Any] = {key: value for key, value in token.items() if key != ISSUED_FOR}
    if identity is not None:
        if None in identity.as_dict().values():
            raise ValueError("a token can only be written with a full TokenIdentity")
        data[ISSUED_FOR] = identity.as_dict()
    return json.dumps(data, indent=2).encode("utf-8") + b"\n"


def decode_token(raw: bytes) -> tuple[TokenDict | None, str | None]:
    """Return ``(token, None)`` for a usable stored token, or ``(None, problem)``."""
    if len(raw) > MAX_CACHE_SIZE:
        return None, f"it is larger than {MAX_CACHE_SIZE} bytes"
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "it is not valid JSON (it may be truncated)"
    problem = token_problem(value)
    if problem is not None:
        return None, f"it {problem}"
    return validate_token_dict(value, source="", advice=""), None


def check_identity(
    token: TokenDict, identity: TokenIdentity | None, where: str
) -> TokenDict | None:
    """*token* without its ``issued_for`` record if it belongs to *identity*, else ``None``."""
    if identity is not None:
        mismatch = identity.mismatch(token)
        if mismatch is not None:
            logger().warning(
                "Not using the token in %s: %s. A new authorization will move it aside; "
                "give each app and region its own store.",
                where,
                mismatch,
            )
            return None
    token.pop(ISSUED_FOR, None)
    return token


def bind_identity(store: TokenStore, identity: TokenIdentity) -> None:
    """Bind *store* to *identity*: from now on it serves clients of that identity only.

    `OAuth2` calls this with its own identity, once its arguments are checked. A store
    made without an identity takes *identity* (the one change a client makes to a store
    it is given); one already bound to it is left as it is; one bound to another app,
    region or scope is refused, since its token is not this client's and a sign-on here
    would move that token aside. (A function, not a method: a store of your own may
    have a ``bind`` of its own.)

    Raises:
        ConfigurationError: The store is bound to another identity.
    """
    if store.identity == identity:
        return
    if store.identity is not None:
        raise ConfigurationError(
            f"The store is for {store.identity}, but this client is {identity}. Give "
            f"each app, region and scope its own store (or {argument('cache_path')})."
        )
    store.identity = identity


def cli_options_of(store: TokenStore) -> list[str] | None:
    """``store.cli_options()``, or ``None`` for a store that has no such method.

    A store registered with ``TokenStore.register`` (not a subclass) was accepted
    before `TokenStore.cli_options` was declared; for it, as for the default, the
    command cannot reach the store.
    """
    method = getattr(type(store), "cli_options", None)
    return None if method is None else method(store)
