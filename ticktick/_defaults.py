"""What every layer shares: the version, the logger, the defaults and their checks.

It imports nothing of ours at start (the `ConfigurationError` of a refused value is
imported when one is raised), so that ``import ticktick`` loads this module only; and
it is on the fast path (docs/architecture.md), so it stays small.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping
    from typing import Any

__version__ = "0.1.0"
"""The version of ticktick-oauth (``ticktick.__version__``)."""


def logger() -> logging.Logger:
    """The ``ticktick`` logger (importing `logging` on first use, off the fast path)."""
    import logging

    return logging.getLogger("ticktick")


def lazy_names(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for *package* that imports each name on first use.

    *where* maps a name to the module (relative to *package*) that defines it; the
    name is then kept in *package*, so the import happens once. This is how
    ``import ticktick`` stays fast while ``ticktick.OAuth2`` still works.
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            value = getattr(__import__(f"{package}.{module}", fromlist=[name]), name)
        except ImportError as exc:
            from .errors import ExtraNotInstalled, NameNeedsExtra  # only when one is missing

            if isinstance(exc, ExtraNotInstalled):  # hasattr() is False, the words remain
                raise NameNeedsExtra(str(exc)) from None
            raise
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)
"""Seconds to connect and to wait for the answer, when a request gives no timeout."""

MAX_TIMEOUT = 86400.0
"""The longest request timeout accepted, in seconds (one day)."""

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""The Redis server of ``RedisStore`` and ``ticktick-auth --store redis`` when none is given."""

DEFAULT_SCOPE = "tasks:write tasks:read"
"""The scope asked for when none is given: read and write tasks and projects."""

LOCK_TIMEOUT = 10.0
"""Seconds to wait for a lock held by a write or a discard (those take milliseconds)."""

DEFAULT_SIGNON_TIMEOUT = 300.0
"""Seconds a person has to complete an authorization."""

SIGNON_LOCK_SLACK = 30.0
"""Seconds beyond the sign-on timeout that a process waits for a store's lock: its
holder may be signing on, then has its token request and write to finish."""

Timeout = float | tuple[float, float]
"""A request timeout: seconds, or ``(connect, read)`` seconds."""


def check_seconds(value: object, name: str, *, pair: bool = False) -> float:
    """Return *value* if it is a usable number of seconds, else raise `ConfigurationError`.

    Usable: finite, above 0 and at most `MAX_TIMEOUT`. ``None`` (wait forever), ``nan``,
    ``inf``, 0 and negative values are refused: nothing here waits forever. *name*
    says what was given; *pair* says a ``(connect, read)`` pair would do too.
    """
    form = "seconds, or a (connect, read) pair of them" if pair else "seconds"
    if value is None:
        why = "None would wait forever"
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        why = f"it must be a number of {form}"
    elif not 0 < value <= MAX_TIMEOUT:  # also refuses nan
        why = f"seconds must be above 0 and at most {MAX_TIMEOUT:g}"
    else:
        return float(value)
    example = ", or (connect, read) seconds, e.g. timeout=(10, 30)" if pair else ""
    from .errors import ConfigurationError  # only for a refused value

    raise ConfigurationError(
        f"{name} cannot work: {why}. Nothing here waits forever; give seconds, e.g. 30{example}."
    )


def check_count(value: object, name: str, *, least: int = 0, most: int = 1000) -> int:
    """Return *value* if it is a whole number from *least* to *most*.

    Else raise `ConfigurationError`; *name* says what was given (e.g. ``retries=``).
    """
    if isinstance(value, int) and not isinstance(value, bool) and least <= value <= most:
        return value
    from .errors import ConfigurationError  # only for a refused value

    raise ConfigurationError(
        f"{name}{value!r} cannot work: give a whole number from {least} to {most}."
    )


def check_timeout(timeout: object, name: str = "timeout") -> Timeout:
    """Return *timeout* if it is a usable request timeout, else raise `ConfigurationError`.

    A request timeout is a number of seconds, or a ``(connect, read)`` pair of them,
    each as `check_seconds` accepts.
    """
    given = f"{name}={timeout!r}"
    if isinstance(timeout, tuple) and len(timeout) == 2:
        connect, read = timeout
        check_seconds(connect, given, pair=True)
        check_seconds(read, given, pair=True)
        return timeout  # the caller's own values, unchanged
    check_seconds(timeout, given, pair=True)
    return timeout  # type: ignore[return-value]  # a number: checked just above
