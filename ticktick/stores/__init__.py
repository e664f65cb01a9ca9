"""Token stores: where a token is kept between runs, and who may renew it.

Every store follows one small interface, `TokenStore`: ``read``, ``write``,
``delete``, ``discard`` (drop a refused token, and only that one) and ``lock``, the
section in which exactly one process re-reads the store, asks a person if the token
is still missing, and writes the result, while every other process waits and then
reads that result. ``OAuth2(store=...)`` selects one; ``cache_path=`` selects the file.

* `FileStore` (default, ``.token-oauth``; also ``CacheHandler``): one machine.
* `MemoryStore`: one process (tests, short scripts).
* `EnvSource`: read-only, a variable such as ``ACCESS_TOKEN_DICT``.
* ``KeyringStore`` (in [`ticktick.stores.keyring`][ticktick.stores.keyring]): the system's
  secret store (``pip install 'ticktick-oauth[keyring]'``).
* ``RedisStore`` (in [`ticktick.stores.redis`][ticktick.stores.redis]): many machines
  (``pip install 'ticktick-oauth[redis]'``).

Every stored token carries an ``issued_for`` record (host, client id, scope) and is
returned only to a client of that identity.

The package's modules, each one idea: `base` (the interface, the identity, the
stored form), `disk` (bytes on disk: the one opening rule, private atomic writes),
`locks` (the one lock primitive), and one module per store.
"""

from __future__ import annotations

from .._defaults import lazy_names

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from .base import TokenIdentity, TokenStore
    from .env import EnvSource
    from .file import DEFAULT_CACHE_PATH, CacheHandler, FileStore
    from .memory import MemoryStore

# Each name is imported from its module on first use: `ticktick-auth token` loads the
# file and environment stores only (the fast path: docs/architecture.md).
_WHERE = {
    "DEFAULT_CACHE_PATH": "file",
    "CacheHandler": "file",
    "EnvSource": "env",
    "FileStore": "file",
    "MemoryStore": "memory",
    "TokenIdentity": "base",
    "TokenStore": "base",
}

__all__ = [
    "DEFAULT_CACHE_PATH",
    "CacheHandler",
    "EnvSource",
    "FileStore",
    "MemoryStore",
    "TokenIdentity",
    "TokenStore",
]

__getattr__ = lazy_names(__name__, _WHERE)


def __dir__() -> list[str]:
    return __all__
