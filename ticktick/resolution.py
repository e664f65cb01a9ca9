"""Finding a stored token: one rule for `OAuth2` and ``ticktick-auth``.

The environment variable first, then the store. A token that expires within the
margin (`DEFAULT_EXPIRY_MARGIN`, 60 s) is skipped, not final: an expired
``ACCESS_TOKEN_DICT`` falls through to a valid token in the cache. Memory and a
fresh sign-on are `OAuth2`'s own steps, before and after this one.

This module is on the fast path of ``ticktick-auth token``: it imports neither
``requests`` nor ``argparse``.
"""

from __future__ import annotations

from .stores import EnvSource, FileStore, TokenStore
from .token import DEFAULT_EXPIRY_MARGIN, TokenDict, expire_time_of, is_expired, readable_time

__all__ = ["Resolution", "find_stored_token", "where"]


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
            when = readable_time(expire_time) if expire_time is not None else "an unknown time"
            parts.append(f"the token in the {where(source)} expired on {when}")
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
