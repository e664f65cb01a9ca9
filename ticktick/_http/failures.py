"""What a failed ``requests`` call means for the caller: sent or not, a timeout, showable.

A token request may be tried again with the same code only if it never left, and
an error may chain (for ``--debug``) only text that no server wrote. The deadline
connections of `ticktick._http.session` mark every failure while connecting with
`mark_never_sent`; these functions read that mark and requests' own exceptions.
"""

from __future__ import annotations

import requests
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

__all__ = ["connect_failure", "mark_never_sent", "never_sent", "showable", "timed_out"]

_NEVER_SENT = "_ticktick_never_sent"
"""Set on an exception raised while connecting: nothing of the request was sent."""


def mark_never_sent(exc: BaseException) -> None:
    """Mark *exc*, raised while connecting, as failing before any of the request was sent."""
    setattr(exc, _NEVER_SENT, True)


def never_sent(exc: requests.RequestException) -> bool:
    """Tell whether *exc* happened before any of the request was sent.

    True for a failure to resolve the name, to connect, to set up a proxy tunnel
    or to complete the TLS handshake: the server cannot have acted on the request.
    Every later failure may have reached it.
    """
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.ProxyError)):
        return True
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        cause = todo.pop()
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        if getattr(cause, _NEVER_SENT, False) or isinstance(cause, NewConnectionError):
            return True
        seen.add(id(cause))
        todo += [*cause.args, getattr(cause, "reason", None), cause.__cause__]
    return False


def timed_out(exc: requests.RequestException) -> bool:
    """Tell whether *exc* is a timeout (also after the session's retries ran out)."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError)


def showable(exc: requests.RequestException) -> bool:
    """Whether *exc* may be chained onto an error (``--debug`` shows it).

    True when no server that got the request wrote any of its text: a request never
    sent reached no server, and a timeout's text is urllib3's own. Any other
    failure may quote what the server sent, which may echo a secret.
    """
    return never_sent(exc) or timed_out(exc)


def connect_failure(exc: requests.RequestException) -> str:
    """Say in a few words why a request that was `never_sent` could not connect.

    The text comes from the system, the TLS library or the proxy, never from the
    server the request was meant for, which never received it.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out"
    cause: BaseException = exc
    for _ in range(10):
        inner = getattr(cause, "reason", None)
        inner = getattr(cause, "original_error", None) or inner
        if not isinstance(inner, BaseException):
            inner = cause.__cause__ or next(
                (arg for arg in cause.args[::-1] if isinstance(arg, BaseException)), None
            )
        if inner is None:
            break
        cause = inner
    text = " ".join(str(cause).split())[:200]
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"the proxy failed: {text}"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"the TLS handshake failed: {text}"
    return text
