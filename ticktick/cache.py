"""ticktick-py's module name for the token cache: ``from ticktick.cache import CacheHandler``.

The file store lives in [`ticktick.stores.file`][ticktick.stores.file]; this module only keeps
code written for ticktick-py importing.
"""

from .stores import CacheHandler

__all__ = ["CacheHandler"]
