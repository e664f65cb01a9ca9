"""`SignOn`, the default authorizer: loopback capture, a browser, or a pasted URL."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from .._deadline import Countdown, WaitLine
from ..errors import (
    AuthorizationTimeout,
    ReauthorizationRequired,
    RedirectParseError,
    RedirectUriMismatch,
    StateMismatch,
    argument,
    oauth_error,
)
from .redirect import parse_redirect
from .request import AuthorizationRequest
from .terminal import ReadLine, headless_reason, no_terminal_reason, read_terminal_line

# The loopback receiver (http.server), webbrowser and getpass are imported when a
# sign-on runs: an OAuth2 that finds a cached token never needs them.
if TYPE_CHECKING:
    from .loopback import LoopbackReceiver, RedirectResult


_STALE_STATE = (
    "That URL's 'state' is not the one this sign-on sent: it is from an earlier attempt "
    "(an older browser tab), or forged. Paste the address from the tab opened for this "
    "sign-on, after clicking Allow."
)
"""Said when a pasted URL carries another sign-on's ``state``: the person may paste again."""


class SignOn:
    """Get a code from a person: loopback capture, a browser, or a pasted URL.

    This is [`OAuth2`][ticktick.oauth2.OAuth2]'s default authorizer. For a loopback redirect
    URI (``http://127.0.0.1:PORT/``, ``localhost``, ``[::1]``) it binds the port
    *before* opening the browser and captures the redirect itself; otherwise, or as
    well when a terminal is at hand, it reads the redirected URL (or bare code) that
    the person pastes. On a machine with no display, over SSH or in a container it
    does not try a browser: it prints the URL, and over SSH the ``ssh -L`` command
    that forwards the loopback port from the person's own machine.

    Args:
        open_browser: Open the URL in a browser: ``None`` (default) when the machine
            is not headless; ``True`` always; ``False`` never.
        capture: Capture a loopback redirect with a one-shot local server.
        paste: Accept a pasted URL: ``None`` (default) when standard input is a
            terminal and ``CI`` is unset.
        read_line: Replaces the terminal reader (for tests); see `ReadLine`.
        output: Where instructions are written (standard error by default, so that a
            program's own output stays clean).
        attempts: How many unusable pastes (unreadable, or another sign-on's ``state``)
            are allowed before giving up.
        ask_to_open: Ask "Open the browser? [Y/n]" before opening it (with a terminal).
        mismatch_hint_after: Seconds without a redirect after which a hint is printed,
            once: what the browser shows when the redirect URI is not the registered
            one, and how to fix it. ``None`` for no hint.

    Its words name `OAuth2`'s arguments (``redirect_uri=``), and ``ticktick-auth``'s
    flags while the command runs (`ticktick.errors.argument`).
    """

    def __init__(
        self,
        *,
        open_browser: bool | None = None,
        ask_to_open: bool = False,
        capture: bool = True,
        paste: bool | None = None,
        read_line: ReadLine | None = None,
        output: TextIO | None = None,
        attempts: int = 3,
        mismatch_hint_after: float | None = 20.0,
    ) -> None:
        self.open_browser = open_browser
        self.ask_to_open = ask_to_open
        self.capture = capture
        self.paste = paste
        self.read_line = read_line or read_terminal_line
        self.output = output
        self.attempts = attempts
        self.mismatch_hint_after = mismatch_hint_after

    def _paste_only(self, redirect_uri: str) -> str:
        """Why the redirect to *redirect_uri* can only be pasted, with no terminal to paste."""
        from urllib.parse import urlsplit

        from ..endpoints import is_loopback
        from .loopback import loopback_address

        nowhere = "and there is no terminal to paste it into"
        if loopback_address(redirect_uri) is not None:  # not captured: capture is off
            off = argument("capture", False)
            return (
                f"Capturing the redirect to {redirect_uri} is turned off ({off}), so it can "
                f"only be pasted, {nowhere}. Run it without {off}, or in a terminal."
            )
        if is_loopback(urlsplit(redirect_uri).hostname):
            why = "is https on this machine, which cannot be captured (no certificate)"
        else:
            why = "is not on this machine (not a loopback address)"
        return (
            f"The redirect URI {redirect_uri} {why}, so the redirect can only be pasted, "
            f"{nowhere}. Run 'ticktick-auth login' in a terminal."
        )

    def _say(self, text: str) -> None:
        print(text, file=self.output or sys.stderr, flush=True)

    def _wait_line(self, budget: Countdown, *, above: bool) -> WaitLine:
        """The countdown line of this sign-on's wait (drawn on a terminal only)."""
        return WaitLine(budget, stream=self.output or sys.stderr, above=above)

    def __call__(self, request: AuthorizationRequest) -> str:
        """Run the sign-on for *request* and return the code."""
        from .loopback import LoopbackReceiver, loopback_address

        can_paste = self.paste if self.paste is not None else no_terminal_reason() is None
        receiver: LoopbackReceiver | None = None
        if self.capture and loopback_address(request.redirect_uri) is not None:
            receiver = LoopbackReceiver(request.redirect_uri, request.state)
        if receiver is None and not can_paste:
            raise ReauthorizationRequired(self._paste_only(request.redirect_uri))
        with contextlib.ExitStack() as stack:
            if receiver is not None:
                stack.enter_context(receiver)  # bound before the browser is opened
            self._show(request, receiver, can_paste)
            budget = Countdown(request.timeout)
            if not can_paste:
                assert receiver is not None  # noqa: S101 - checked above
                hint_after = self.mismatch_hint_after
                line = self._wait_line(budget, above=False)
                line.start(f"Waiting for the browser to return to {request.redirect_uri}")
                try:
                    result = receiver.wait(
                        request.timeout,
                        slow_after=float("inf") if hint_after is None else hint_after,
                        on_slow=lambda: self._hint(request, can_paste=False, say=line.say),
                        on_check=line.update,
                    )
                finally:
                    line.end()
                return _code_of(result)
            return self._read_paste(request, receiver, budget)

    def _hint(
        self,
        request: AuthorizationRequest,
        *,
        can_paste: bool,
        say: Callable[[str], None] | None = None,
    ) -> None:
        """Say what the browser shows when the redirect URI is not the registered one."""
        uri = request.redirect_uri
        option = f"{argument('redirect_uri')} exactly as registered"
        paste = " Or paste that line here: it names the registered URI." if can_paste else ""
        (say or self._say)(
            f"Still no redirect after {self.mismatch_hint_after:g} s. If the browser shows "
            f"'Invalid redirect: {uri} does not match one of the registered values: [...]', "
            f"the app is registered with another redirect URI: authorize again with {option} "
            "(the value in the brackets; a trailing slash counts, and localhost is not "
            f"127.0.0.1), or register {uri} for the app.{paste}"
        )

    def _show(
        self, request: AuthorizationRequest, receiver: LoopbackReceiver | None, can_paste: bool
    ) -> None:
        self._say(
            "To authorize this app, open this URL in a browser, sign in and click Allow:\n\n"
            f"    {request.url}\n"
        )
        headless = headless_reason()
        wants_browser = self.open_browser if self.open_browser is not None else headless is None
        if wants_browser and self.ask_to_open and can_paste:
            answer = self.read_line(
                "Open the browser to sign on? [Y/n]: ", request.timeout, lambda: False
            )
            wants_browser = (answer or "").strip().lower() not in ("n", "no")
        if wants_browser:
            import webbrowser

            try:
                opened = webbrowser.open(request.url)
            except Exception:
                opened = False
            if not opened:
                self._say("(No browser could be opened; open the URL by hand.)")
        elif headless is not None and self.open_browser is None:
            self._say(f"Not opening a browser here: {headless}. Open the URL on any machine.")
        if receiver is not None and os.environ.get("SSH_CONNECTION"):
            import getpass
            import socket

            host = f"[{receiver.address}]" if ":" in receiver.address else receiver.address
            self._say(
                "This is an SSH session. To let your own browser reach this machine's "
                f"{request.redirect_uri}, reconnect with port forwarding:\n\n"
                f"    ssh -L {receiver.port}:{host}:{receiver.port} "
                f"{getpass.getuser()}@{socket.gethostname()}\n\n"
                "or paste the address you are redirected to below."
            )
        if receiver is not None and not WaitLine.wanted(self.output or sys.stderr):
            # On a terminal, the countdown line says it (`_wait_line`).
            self._say(f"Waiting for the browser to come back to {request.redirect_uri} ...")
        if can_paste and receiver is not None:
            self._say(
                f"If the redirect to {request.redirect_uri} does not load, copy the whole "
                "address from the browser and paste it here."
            )
        elif can_paste:  # nothing here listens: the address is always pasted
            self._say(
                f"After you click Allow, the browser goes to {request.redirect_uri}: copy "
                "the whole address from its address bar and paste it here."
            )

    def _read_paste(
        self, request: AuthorizationRequest, receiver: LoopbackReceiver | None, budget: Countdown
    ) -> str:
        """Read pasted answers until one is usable; all of them share *budget*."""
        line = self._wait_line(budget, above=True)
        what = (
            f"Waiting for the browser to return to {request.redirect_uri}"
            if receiver is not None
            else "Waiting for the address to be pasted"
        )

        def captured() -> bool:
            line.update()
            return receiver is not None and receiver.done

        hint_after = self.mismatch_hint_after
        hinted = hint_after is None
        attempt = 0
        while attempt < self.attempts:
            remaining = budget.left()
            if remaining <= 0:
                break
            until_hint = 0.0 if hinted else max(0.0, (hint_after or 0.0) - budget.waited())
            if not hinted and until_hint <= 0:
                self._hint(request, can_paste=True)
                hinted = True
            waiting_for_hint = not hinted and until_hint < remaining
            line.start(what)  # on a terminal: the countdown, just above the prompt
            try:
                answer = self.read_line(
                    "Redirected URL (or code): ",
                    until_hint if waiting_for_hint else remaining,
                    captured,
                )
            except AuthorizationTimeout:
                if waiting_for_hint:
                    continue  # the hint is due: shown at the top, then the prompt again
                break
            attempt += 1
            if answer is None:
                assert receiver is not None  # noqa: S101 - only a receiver cancels a read
                assert receiver.result is not None  # noqa: S101 - set when it cancels
                self._say("Received the redirect from the browser.")
                return _code_of(receiver.result)
            try:
                return parse_redirect(answer, request.state)
            except RedirectUriMismatch:
                raise  # no code can come of this authorization: it says which URI to use
            except (RedirectParseError, StateMismatch) as exc:
                if attempt == self.attempts:
                    raise type(exc)(
                        f"{exc} Gave up after {self.attempts} unusable answers."
                    ) from None
                why = _STALE_STATE if isinstance(exc, StateMismatch) else str(exc)
                self._say(f"{why} Try again ({self.attempts - attempt} left).")
        if receiver is not None:
            raise receiver.timeout_error(request.timeout)
        raise AuthorizationTimeout(
            f"The authorization was not completed within {request.timeout:g} s. "
            "Authorize again when you are ready."
        )


def _code_of(result: RedirectResult) -> str:
    if result.error is not None or not result.code:
        raise oauth_error(
            what="The authorization",
            status=None,
            error=result.error or "invalid_request",
            error_description=result.error_description,
            secrets=[result.code],
        )
    return result.code
