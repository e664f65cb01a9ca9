"""Defaults shared by several modules, kept where importing them costs nothing."""

from .errors import ConfigurationError

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)
"""Seconds to connect and to wait for the answer, when a request gives no timeout."""

MAX_TIMEOUT = 86400.0
"""The longest request timeout accepted, in seconds (one day)."""

DEFAULT_SIGNON_TIMEOUT = 300.0
"""Seconds a person has to complete an authorization."""

Timeout = float | tuple[float, float]
"""A request timeout: seconds, or ``(connect, read)`` seconds."""


def check_timeout(timeout: object, name: str = "timeout") -> Timeout:
    """Return *timeout* if it is a usable request timeout, else raise `ConfigurationError`.

    A timeout is a number of seconds, or a ``(connect, read)`` pair of them, each
    finite, above 0 and at most `MAX_TIMEOUT`. ``None`` (wait forever), ``nan``,
    ``inf``, 0 and negative values are refused: no request here waits forever.
    """
    parts = timeout if isinstance(timeout, tuple) and len(timeout) == 2 else (timeout,)
    for part in parts:
        if part is None:
            why = "None would let a request wait forever"
        elif isinstance(part, bool) or not isinstance(part, (int, float)):
            why = "it must be a number of seconds, or a (connect, read) pair of them"
        elif not 0 < part <= MAX_TIMEOUT:  # also refuses nan
            why = f"each value must be above 0 and at most {MAX_TIMEOUT:g} seconds"
        else:
            continue
        raise ConfigurationError(
            f"{name}={timeout!r} cannot work: {why}. Nothing here waits forever; give "
            f"seconds, e.g. {name}=30, or (connect, read) seconds, e.g. {name}=(10, 30)."
        )
    return timeout  # type: ignore[return-value]  # checked just above
