"""The former path of `RedisStore`, kept so that existing imports work.

Import from [`ticktick.stores.redis`][ticktick.stores.redis] in new code.
"""

from .stores.redis import RedisStore

__all__ = ["RedisStore"]
