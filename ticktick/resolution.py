"""Resolving a token: memory, then the environment, then the store, then a sign-on.

`Resolver` is the whole rule, on one screen (`Resolver.get_access_token`); `OAuth2`
is ticktick-py's surface over it and supplies the sign-on. `find_stored_token` is
its middle part, which ``ticktick-auth`` shares: the environment variable first,
then the store. A token that expires within the margin (`DEFAULT_EXPIRY_MARGIN`,
60 s) is skipped, not final: an expired ``ACCESS_TOKEN_DICT`` falls through to a
valid token in the cache, and an expired token in memory to both.

This module is on the fast path of ``ticktick-auth token`` and of a cached
``OAuth2()``: it imports neither ``requests`` nor ``argparse``.
"""

from __future__ import annotations

import time

from ._defaults import SIGNON_LOCK_SLACK, logger
from .stores import EnvSource, FileStore, TokenStore
from .token import (
    DEFAULT_EXPIRY_MARGIN,
    TokenDict,
    expire_time_of,
    is_expired,
    readable_time,
)

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any

__all__ = ["Resolution", "Resolver", "find_stored_token", "where"]


def where(source: TokenStore) -> str:
    """Where a token was read, for people: ``environment variable X``, ``cache file P``, ..."""
    if isinstance(source, EnvSource):
        return f"environment variable {source.name}"
    if isinstance(source, FileStore):
        return f"cache file {source.describe()}"
    return source.describe()


class Resolution:
    """What `find_stored_token` found.

    Attributes:
        token: The valid token, or ``None``.
        source: Where *token* came from (an `EnvSource` or the store).
        expired: The expired tokens passed on the way, with their sources, in order.
    """

    __slots__ = ("expired", "source", "token")

    def __init__(
        self,
        token: TokenDict | None,
        source: TokenStore | None,
        expired: list[tuple[TokenStore, TokenDict]],
    ) -> None:
        self.token = token
        self.source = source
        self.expired = expired

    def reason(self) -> str:
        """Why a new token is needed: which tokens expired and when, or that none was found."""
        if not self.expired:
            return "No token was found"
        parts = []
        for source, token in self.expired:
            expire_time = expire_time_of(token)
            if expire_time is None:
                state = "expired at an unknown time"
            elif expire_time > time.time():
                state = f"expires on {readable_time(expire_time)}, within the expiry margin"
            else:
                state = f"expired on {readable_time(expire_time)}"
            parts.append(f"the token in the {where(source)} {state}")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]


def find_stored_token(
    env_name: str | None,
    store: TokenStore | None,
    margin: float = DEFAULT_EXPIRY_MARGIN,
) -> Resolution:
    """The first token valid for *margin* more seconds: in the variable *env_name*, then *store*.

    Args:
        env_name: The environment variable holding a token dict; ``None`` or ``""`` to skip it.
        store: The token store; ``None`` to skip it.
        margin: Seconds before its expiry at which a token counts as expired.

    Raises:
        TokenFormatError: The variable is set but does not hold a token dict.
        TokenCacheError: The store cannot be read.
    """
    expired: list[tuple[TokenStore, TokenDict]] = []
    sources: list[TokenStore] = [EnvSource(env_name)] if env_name else []
    if store is not None:
        sources.append(store)
    for source in sources:
        token = source.read()
        if token is None:
            continue
        if not is_expired(token, margin):
            return Resolution(token, source, expired)
        expired.append((source, token))
    return Resolution(None, None, expired)


class Resolver:
    """A valid token, from memory, the environment, the store, or else a sign-on.

    The base of `OAuth2`, which adds ticktick-py's surface and the sign-on itself
    (`_sign_on`). One instance serves every thread of a process: a resolution runs
    under its lock, and in a store's lock wherever a person may be asked, so that
    of many processes sharing the store exactly one asks and the others use its token.

    Args:
        cache: The store (ticktick-py calls it the cache), or ``None``: memory only.
        env_key: The environment variable holding a token dict, or ``None``.
        expiry_margin: Seconds before its expiry at which a token counts as expired.
        signon_timeout: Seconds a sign-on may take (its lock is waited for longer).
        lock: The re-entrant lock guarding this instance's token in memory.
    """

    def __init__(
        self,
        *,
        cache: TokenStore | None,
        env_key: str | None,
        expiry_margin: float,
        signon_timeout: float,
        lock: AbstractContextManager[Any],
    ) -> None:
        self.cache = cache
        """The token store (ticktick-py's ``cache``; ``get_cached_token()`` works on it)."""
        self.env_key = env_key
        self.expiry_margin = expiry_margin
        self.signon_timeout = signon_timeout
        self._lock = lock
        self._info: TokenDict | None = None
        self._token: str | None = None
        self._valid_until = float("-inf")
        self.token_source: str | None = None
        """Where the current token came from: ``"memory"``, ``"env:NAME"``, ``"cache:PATH"``
        or ``"authorization"``."""

    def token_in_memory(self) -> str | None:
        """The token held in memory if it is still valid, else ``None``; never blocks.

        No store is read and no lock taken: an async client checks this on its event
        loop and resolves in a worker thread only when it is ``None``.
        """
        token = self._token
        return token if token is not None and time.time() < self._valid_until else None

    def get_access_token(self, check_cache: bool = True, check_env: str | None = None) -> str:
        """Return a valid access token, resolving one if needed.

        Order: memory, the environment variable, the store, a fresh authorization.

        Args:
            check_cache: Whether to use the store (ticktick-py's cache file).
            check_env: The environment variable to read; by default ``env_key``.
                Pass ``""`` to skip the environment.

        Raises:
            TokenFormatError: The variable is set but does not hold a usable token dict.
            ReauthorizationRequired: A person must authorize and none can be asked here.
            OAuthError: The authorization or the token request failed.
        """
        token = self._token  # 1. memory, without a lock: the hot path
        if token is not None and time.time() < self._valid_until:
            return token
        with self._lock:
            # Another thread may have resolved the token while this one waited.
            if self._token is not None and time.time() < self._valid_until:
                return self._token
            if self._info is not None:
                logger().info("The token in memory has expired; resolving again.")
            env_name = self.env_key if check_env is None else check_env
            store = self.cache if check_cache else None
            found = find_stored_token(env_name or None, store, self.expiry_margin)  # 2. and 3.
            if found.token is not None and found.source is not None:
                info, source = found.token, _token_source(found.source)
            else:  # 4. a sign-on, unless another process has just done one
                info, source = self._renew(found.reason(), reuse_store=check_cache)
            self._keep(info, source)
            self._resolved(info)
            access_token: str = info["access_token"]
            return access_token

    def _renew(self, why: str, reuse_store: bool) -> tuple[TokenDict, str]:
        """A new token, authorized by at most one process sharing the store.

        Under the store's lock: read the store again (another process may have just
        authorized; then that token is used), and only if it still has no valid token,
        sign on. Every other process waits on the lock meanwhile.
        """
        store = self.cache
        if store is None:
            return self._sign_on(why), "authorization"
        with self._store_lock(store):
            if reuse_store:
                info = store.read()
                if info is not None and not is_expired(info, self.expiry_margin):
                    logger().info("Another process renewed the token meanwhile; using it.")
                    return info, _token_source(store)
            return self._sign_on(why), "authorization"

    def _store_lock(self, store: TokenStore) -> AbstractContextManager[None]:
        """*store*'s lock, waited for as long as another process's sign-on may take."""
        return store.lock(self.signon_timeout + SIGNON_LOCK_SLACK)

    def _keep(self, info: TokenDict | None, source: str | None) -> None:
        """Hold *info* (from *source*) in memory; ``None`` forgets the token held."""
        with self._lock:
            self._info = info
            self._token = None if info is None else info["access_token"]
            expire_time = None if info is None else expire_time_of(info)
            self._valid_until = (
                float("-inf")
                if info is None
                else float("inf")
                if expire_time is None
                else expire_time - self.expiry_margin
            )
            self.token_source = source

    def _sign_on(self, why: str) -> TokenDict:
        """A new token, authorized by a person and written to the store; *why* says why.

        `OAuth2` provides it. (A plain method, not an abstract one: `OAuth2` stays a
        class of metaclass `type`, which user classes can mix with theirs.)
        """
        raise NotImplementedError

    def _resolved(self, info: TokenDict) -> None:
        """Called with each token a resolution finds (not with one held in memory)."""


def _token_source(source: TokenStore) -> str:
    """`Resolver.token_source` of a token found in *source*: ``env:NAME`` or ``cache:WHERE``."""
    if isinstance(source, EnvSource):
        return source.describe()
    return f"cache:{source.describe()}"
