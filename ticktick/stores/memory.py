"""`MemoryStore`: the token kept in this process only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._defaults import LOCK_TIMEOUT
from .base import TokenStore, check_identity, decode_token, encode_token
from .locks import ThreadLock

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AbstractContextManager
    from typing import Any

    from ..token import TokenDict
    from .base import TokenIdentity


class MemoryStore(TokenStore):
    """Keeps the token in this process only: for tests and short scripts.

    One instance can be shared by several ``OAuth2`` clients (and threads) of the
    process; it applies the same identity check and lock as the other stores.
    """

    def __init__(self, *, identity: TokenIdentity | None = None) -> None:
        self.identity = identity
        self._stored: bytes | None = None  # the stored form, as other stores keep it
        self._lock = ThreadLock("the memory store")

    def __repr__(self) -> str:
        return "MemoryStore()"

    def describe(self) -> str:
        """``memory``."""
        return "memory"

    def read(self) -> TokenDict | None:
        """The token kept here, if it belongs to `identity`."""
        stored = self._stored
        if stored is None:
            return None
        token, _ = decode_token(stored)
        return None if token is None else check_identity(token, self.identity, "memory")

    def write(self, token: Mapping[str, Any]) -> None:
        """Keep *token*."""
        self._stored = encode_token(token, self.identity)

    def delete(self) -> bool:
        """Forget the token; return whether there was one."""
        had, self._stored = self._stored is not None, None
        return had

    def discard(self, access_token: str) -> bool:
        """Forget the token if it is *access_token*."""
        with self._lock.hold(LOCK_TIMEOUT):
            stored = self._stored
            token = None if stored is None else decode_token(stored)[0]
            if token is None or token["access_token"] != access_token:
                return False
            self._stored = None
            return True

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """An in-process lock (threads of this process wait for each other)."""
        return self._lock.hold(timeout)
