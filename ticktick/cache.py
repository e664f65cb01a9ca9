"""ticktick-py's module name for the token cache: ``from ticktick.cache import CacheHandler``.

The file store lives in [`ticktick.store`][ticktick.store]; this module only keeps
code written for ticktick-py importing.
"""

from .store import CacheHandler

__all__ = ["CacheHandler"]
