"""Defaults shared by several modules, kept where importing them costs nothing."""

from .errors import ConfigurationError

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)
"""Seconds to connect and to wait for the answer, when a request gives no timeout."""

MAX_TIMEOUT = 86400.0
"""The longest request timeout accepted, in seconds (one day)."""

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""The Redis server of ``RedisStore`` and ``ticktick-auth --store redis`` when none is given."""

DEFAULT_SCOPE = "tasks:write tasks:read"
"""The scope asked for when none is given: read and write tasks and projects."""

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
    raise ConfigurationError(
        f"{name} cannot work: {why}. Nothing here waits forever; give seconds, e.g. 30{example}."
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
