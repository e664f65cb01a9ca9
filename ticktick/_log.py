"""The library's one logger, ``ticktick``, imported only when something is logged."""

from __future__ import annotations

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    import logging


def logger() -> logging.Logger:
    """The ``ticktick`` logger (importing `logging` on first use, off the fast path)."""
    import logging

    return logging.getLogger("ticktick")
