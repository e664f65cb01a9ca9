"""The former path of the token stores, kept so that existing imports work.

Import from [`ticktick.stores`][ticktick.stores] in new code.
"""

from .stores import (
    DEFAULT_CACHE_PATH,
    CacheHandler,
    EnvSource,
    FileStore,
    MemoryStore,
    TokenIdentity,
    TokenStore,
)

__all__ = [
    "DEFAULT_CACHE_PATH",
    "CacheHandler",
    "EnvSource",
    "FileStore",
    "MemoryStore",
    "TokenIdentity",
    "TokenStore",
]
