"""The fresh-authorization step: get a code from a person.

:class:`~ticktick.OAuth2` builds an :class:`AuthorizationRequest` (the authorize URL
with a fresh random ``state``) and hands it to an *authorizer*: any callable that
returns the authorization code, or raises. The default, :class:`TerminalSignOn`,
prints the URL, tries to open a browser, and reads the redirected URL (or the bare
code) that the person pastes. Pass ``authorizer=`` to ``OAuth2`` to replace it, for
example with ``FakeTickTick.approver()`` in tests.

:func:`parse_redirect` turns what a person pasted into a code, checking ``state``
so that a forged or stale redirect is refused.
"""

from __future__ import annotations

import os
import re
import secrets
import select
import sys
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO
from urllib.parse import parse_qs, urlsplit

from .errors import (
    AuthorizationTimeout,
    ReauthorizationRequired,
    RedirectParseError,
    StateMismatch,
    _oauth_error,
)

__all__ = [
    "DEFAULT_SIGNON_TIMEOUT",
    "AuthorizationRequest",
    "Authorizer",
    "TerminalSignOn",
    "parse_redirect",
]

DEFAULT_SIGNON_TIMEOUT = 300.0
"""Seconds a person has to complete the authorization."""

_BARE_CODE = re.compile(r"[A-Za-z0-9._~-]{4,512}")


@dataclass(frozen=True)
class AuthorizationRequest:
    """One authorization attempt.

    Attributes:
        url: The authorize URL to open in a browser.
        state: The random value the redirect must carry back.
        redirect_uri: Where TickTick sends the browser afterwards.
        timeout: Seconds the person has to finish.
    """

    url: str
    state: str
    redirect_uri: str
    timeout: float = DEFAULT_SIGNON_TIMEOUT

    def __repr__(self) -> str:
        return f"AuthorizationRequest(redirect_uri={self.redirect_uri!r}, timeout={self.timeout})"


class Authorizer(Protocol):
    """Gets an authorization code for a request, or raises a ``TickTickError``."""

    def __call__(self, request: AuthorizationRequest) -> str: ...


def parse_redirect(text: str, expected_state: str | None) -> str:
    """Return the authorization code from a redirected URL or a bare code.

    Args:
        text: The full URL the browser was redirected to, its query string, or the code.
        expected_state: The ``state`` that was sent; checked when the URL carries one.

    Raises:
        AccessDenied: The URL carries ``error=access_denied``.
        OAuthError: The URL carries another ``error``.
        StateMismatch: The URL's ``state`` differs from *expected_state*.
        RedirectParseError: The text holds neither a code nor an error.
    """
    text = text.strip().strip("'\"<>")
    if not text:
        raise RedirectParseError("Nothing was entered. Paste the URL you were redirected to.")
    if "=" not in text and "?" not in text and "://" not in text:
        if _BARE_CODE.fullmatch(text):
            return text
        raise RedirectParseError(
            "That is neither a URL nor a code. Paste the whole address from the browser's "
            "address bar after clicking Allow."
        )
    parts = urlsplit(text)
    query = parts.query or (parts.path if "=" in parts.path and not parts.netloc else "")
    fields = parse_qs(query) | parse_qs(parts.fragment)

    def one(name: str) -> str | None:
        values = fields.get(name)
        return values[0] if values else None

    state = one("state")
    if (
        state is not None
        and expected_state is not None
        and not secrets.compare_digest(state.encode(), expected_state.encode())
    ):
        raise StateMismatch(
            "The redirect's state does not match the one this authorization sent: it may "
            "be forged, or from an earlier attempt. Authorize again and paste the newest URL."
        )
    error = one("error")
    if error is not None:
        raise _oauth_error(
            what="The authorization",
            status=None,
            error=error,
            error_description=one("error_description"),
        )
    code = one("code")
    if not code:
        raise RedirectParseError(
            "That URL has no 'code' in it. Paste the address you reach after clicking Allow; "
            "it contains '?code='."
        )
    return code


def no_terminal_reason() -> str | None:
    """Say why no person can be prompted in this process, or ``None`` if one can."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return "the CI environment variable is set"
    stdin = sys.stdin
    try:
        if stdin is None or not stdin.isatty():
            return "standard input is not a terminal"
    except (ValueError, OSError):  # closed or detached stdin
        return "standard input is not a terminal"
    return None


ReadLine = Callable[[str, float], str]


def _read_terminal_line(prompt: str, timeout: float) -> str:
    """Read one line from the terminal, waiting at most *timeout* seconds."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    if sys.platform != "win32":
        ready, _, _ = select.select([sys.stdin], [], [], timeout)
        if not ready:
            sys.stderr.write("\n")
            raise AuthorizationTimeout(
                f"No answer within {timeout:g} s. Authorize again when you are ready."
            )
    line = sys.stdin.readline()
    if not line:
        raise ReauthorizationRequired(
            "Standard input closed before a redirect URL was pasted. Authorize again from a "
            "terminal."
        )
    return line


class TerminalSignOn:
    """Sign on in a terminal: print the URL, open a browser, read the pasted redirect.

    Args:
        open_browser: Try to open the URL in the default browser.
        read_line: ``read_line(prompt, timeout)`` returns one line typed by the person;
            reads the terminal with a timeout by default.
        output: Where instructions are written (standard error by default, so that a
            program's own output stays clean).
        attempts: How many unreadable pastes are allowed before giving up.
    """

    def __init__(
        self,
        *,
        open_browser: bool = True,
        read_line: ReadLine | None = None,
        output: TextIO | None = None,
        attempts: int = 3,
    ) -> None:
        self.open_browser = open_browser
        self.read_line = read_line or _read_terminal_line
        self.output = output
        self.attempts = attempts

    def __call__(self, request: AuthorizationRequest) -> str:
        """Run the sign-on for *request* and return the code."""
        out = self.output or sys.stderr
        print(
            "To authorize this app, open this URL in a browser, sign in and click Allow:\n\n"
            f"    {request.url}\n",
            file=out,
            flush=True,
        )
        if self.open_browser:
            try:
                opened = webbrowser.open(request.url)
            except Exception:
                opened = False
            if not opened:
                print("(No browser could be opened; copy the URL by hand.)", file=out)
        print(
            f"You will be redirected to {request.redirect_uri} (the page may not load). "
            "Copy the whole address from the browser and paste it here.",
            file=out,
            flush=True,
        )
        deadline = time.monotonic() + request.timeout
        for attempt in range(1, self.attempts + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AuthorizationTimeout(
                    f"The authorization was not completed within {request.timeout:g} s. "
                    "Authorize again when you are ready."
                )
            answer = self.read_line("Redirected URL (or code): ", remaining)
            try:
                return parse_redirect(answer, request.state)
            except RedirectParseError as exc:
                if attempt == self.attempts:
                    raise RedirectParseError(
                        f"{exc} Gave up after {self.attempts} unreadable answers."
                    ) from None
                print(f"{exc} Try again ({self.attempts - attempt} left).", file=out, flush=True)
        raise AssertionError("unreachable")  # pragma: no cover
