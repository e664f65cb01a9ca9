"""Defaults shared by several modules, kept where importing them costs nothing."""

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)
"""Seconds to connect and to wait between bytes, when a request gives no timeout."""

DEFAULT_SIGNON_TIMEOUT = 300.0
"""Seconds a person has to complete an authorization."""

Timeout = float | tuple[float, float]
"""A request timeout: seconds, or ``(connect, read)`` seconds."""
