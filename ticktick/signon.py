"""The fresh-authorization step: get a code from a person.

[`OAuth2`][ticktick.oauth2.OAuth2] builds an `AuthorizationRequest` (the authorize URL
with a fresh random ``state``) and hands it to an *authorizer*: any callable that
returns the authorization code, or raises. The default, `SignOn`, captures
a loopback redirect with a one-shot local server, opens a browser where there is a
display, and reads a pasted redirected URL (or bare code) from the terminal. Pass
``authorizer=`` to ``OAuth2`` to replace it, for example with
``FakeTickTick.approver()`` in tests.

`parse_redirect` turns what a person pasted into a code, checking ``state``
so that a forged or stale redirect is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import select
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TextIO
from urllib.parse import parse_qs, urlsplit

from ._defaults import DEFAULT_SIGNON_TIMEOUT
from .errors import (
    AuthorizationTimeout,
    ReauthorizationRequired,
    RedirectParseError,
    StateMismatch,
    _oauth_error,
)

# The loopback receiver (http.server), webbrowser and getpass are imported when a
# sign-on runs: an OAuth2 that finds a cached token never needs them.
if TYPE_CHECKING:
    from .loopback import LoopbackReceiver, RedirectResult

__all__ = [
    "DEFAULT_SIGNON_TIMEOUT",
    "AuthorizationRequest",
    "Authorizer",
    "SignOn",
    "headless_reason",
    "parse_redirect",
]


_BARE_CODE = re.compile(r"[A-Za-z0-9._~-]{4,512}")


class AuthorizationRequest:
    """One authorization attempt.

    Attributes:
        url: The authorize URL to open in a browser.
        state: The random value the redirect must carry back.
        redirect_uri: Where TickTick sends the browser afterwards.
        timeout: Seconds the person has to finish.
    """

    __slots__ = ("redirect_uri", "state", "timeout", "url")

    def __init__(
        self,
        url: str,
        state: str,
        redirect_uri: str,
        timeout: float = DEFAULT_SIGNON_TIMEOUT,
    ) -> None:
        self.url = url
        self.state = state
        self.redirect_uri = redirect_uri
        self.timeout = timeout

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthorizationRequest) and (
            self.url,
            self.state,
            self.redirect_uri,
            self.timeout,
        ) == (other.url, other.state, other.redirect_uri, other.timeout)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AuthorizationRequest(redirect_uri={self.redirect_uri!r}, timeout={self.timeout})"


class Authorizer(Protocol):
    """Gets an authorization code for a request, or raises a ``TickTickError``."""

    def __call__(self, request: AuthorizationRequest) -> str: ...


def parse_redirect(text: str, expected_state: str | None) -> str:
    """Return the authorization code from a redirected URL or a bare code.

    Args:
        text: The full URL the browser was redirected to, its query string, or the code.
        expected_state: The ``state`` that was sent. A URL (or query string) must carry
            it back; only a bare code, with no URL around it, is taken without one.

    Raises:
        AccessDenied: The URL carries ``error=access_denied``.
        OAuthError: The URL carries another ``error``.
        StateMismatch: The URL's ``state`` differs from *expected_state*.
        RedirectParseError: The text holds neither a code nor an error, is a URL
            without the ``state`` that was sent, or is a URL that cannot be read.
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
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. "http://[127.0.0.1:8080/...": its text is not chained (the code)
        raise RedirectParseError(
            "That URL cannot be read: its host part is malformed (such as an unclosed '['). "
            "Paste the whole address from the browser's address bar after clicking Allow (or "
            "only the code after 'code=')."
        ) from None
    query = parts.query or (parts.path if "=" in parts.path and not parts.netloc else "")
    fields = parse_qs(query) | parse_qs(parts.fragment)

    def one(name: str) -> str | None:
        values = fields.get(name)
        return values[0] if values else None

    state = one("state")
    if expected_state is not None and state is None:
        raise RedirectParseError(
            "That URL has no 'state', but this authorization sent one, so the URL cannot be "
            "checked: it may be cut short, or forged. Paste the whole address from the "
            "browser's address bar after clicking Allow (or only the code after 'code=')."
        )
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
            secrets=fields.get("code", []),
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


CONTAINER_MARKERS = ("/.dockerenv", "/run/.containerenv")
"""Files whose presence shows a Docker or Podman container."""


def headless_reason(
    environ: Mapping[str, str] | None = None,
    markers: Sequence[str] = CONTAINER_MARKERS,
    platform: str = sys.platform,
) -> str | None:
    """Say why a browser cannot be opened on this machine, or ``None`` if it can.

    Headless means: an SSH session, a container, or Linux without a display, unless
    ``$BROWSER`` names a browser command (as dev containers set it to open URLs on
    the host), which `webbrowser` then uses.
    """
    env = os.environ if environ is None else environ
    if env.get("BROWSER"):
        return None
    if any(env.get(name) for name in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")):
        return "this is an SSH session"
    if env.get("container") or any(os.path.exists(marker) for marker in markers):
        return "this looks like a container"
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "there is no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)"
    return None


ReadLine = Callable[[str, float, Callable[[], bool]], "str | None"]
"""``read_line(prompt, timeout, cancelled)``: a typed line, or ``None`` once ``cancelled()``."""

_SLICE = 0.2


def _read_terminal_line(prompt: str, timeout: float, cancelled: Callable[[], bool]) -> str | None:
    """Read one line from the terminal within *timeout* s; ``None`` if *cancelled* first."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    deadline = time.monotonic() + timeout
    if sys.platform != "win32":
        while True:
            if cancelled():
                sys.stderr.write("\n")
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                sys.stderr.write("\n")
                raise AuthorizationTimeout(
                    f"No answer within {timeout:g} s. Authorize again when you are ready."
                )
            ready, _, _ = select.select([sys.stdin], [], [], min(_SLICE, remaining))
            if ready:
                break
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise _prompt_failure(prompt, decodable=False) from None
    if not line:
        raise _prompt_failure(prompt)
    return _decoded_answer(line, prompt)


def _decoded_answer(answer: str, prompt: str) -> str:
    """*answer*, unless it holds bytes the terminal's encoding could not read.

    Under the C locale Python reads such bytes as lone surrogates (``surrogateescape``)
    rather than failing: they are refused here, as a strict decoder refuses them.
    """
    try:
        answer.encode("utf-8")
    except UnicodeEncodeError:
        raise _prompt_failure(prompt, decodable=False) from None
    return answer


def _prompt_failure(prompt: str, *, decodable: bool = True) -> ReauthorizationRequired:
    """The error for a prompt that got no answer: input closed, or not text.

    Args:
        prompt: The prompt as shown (``"Enter your client_id: "``); the error names it.
        decodable: ``False`` when the answer's bytes were not text in the terminal's
            encoding, ``True`` when standard input was closed (Ctrl-D).
    """
    name = prompt.strip().rstrip(":").strip()
    if decodable:
        what = f"Standard input closed at the prompt {name!r} before an answer was given"
    else:
        encoding = getattr(sys.stdin, "encoding", None) or "the terminal's encoding"
        what = f"The answer to the prompt {name!r} is not {encoding} text"
    return ReauthorizationRequired(f"{what}. Authorize again from a terminal and answer it.")


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
        attempts: How many unreadable pastes are allowed before giving up.
        ask_to_open: Ask "Open the browser? [Y/n]" before opening it (with a terminal).
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
    ) -> None:
        self.open_browser = open_browser
        self.ask_to_open = ask_to_open
        self.capture = capture
        self.paste = paste
        self.read_line = read_line or _read_terminal_line
        self.output = output
        self.attempts = attempts

    def _say(self, text: str) -> None:
        print(text, file=self.output or sys.stderr, flush=True)

    def __call__(self, request: AuthorizationRequest) -> str:
        """Run the sign-on for *request* and return the code."""
        from .loopback import LoopbackReceiver, loopback_address

        can_paste = self.paste if self.paste is not None else no_terminal_reason() is None
        receiver: LoopbackReceiver | None = None
        if self.capture and loopback_address(request.redirect_uri) is not None:
            receiver = LoopbackReceiver(request.redirect_uri, request.state)
        if receiver is None and not can_paste:
            raise ReauthorizationRequired(
                f"The redirect URI {request.redirect_uri} is not a loopback address, so the "
                "redirect can only be pasted, and there is no terminal to paste it into. Run "
                "'ticktick-auth login' in a terminal."
            )
        with contextlib.ExitStack() as stack:
            if receiver is not None:
                stack.enter_context(receiver)  # bound before the browser is opened
            self._show(request, receiver, can_paste)
            deadline = time.monotonic() + request.timeout
            if not can_paste:
                assert receiver is not None  # noqa: S101 - checked above
                return _code_of(receiver.wait(request.timeout))
            return self._read_paste(request, receiver, deadline)

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
        if receiver is not None:
            self._say(f"Waiting for the browser to come back to {request.redirect_uri} ...")
        if can_paste:
            self._say(
                f"If the redirect to {request.redirect_uri} does not load, copy the whole "
                "address from the browser and paste it here."
            )

    def _read_paste(
        self, request: AuthorizationRequest, receiver: LoopbackReceiver | None, deadline: float
    ) -> str:
        def captured() -> bool:
            return receiver is not None and receiver.done

        for attempt in range(1, self.attempts + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                answer = self.read_line("Redirected URL (or code): ", remaining, captured)
            except AuthorizationTimeout:
                break
            if answer is None:
                assert receiver is not None  # noqa: S101 - only a receiver cancels a read
                assert receiver.result is not None  # noqa: S101 - set when it cancels
                self._say("Received the redirect from the browser.")
                return _code_of(receiver.result)
            try:
                return parse_redirect(answer, request.state)
            except RedirectParseError as exc:
                if attempt == self.attempts:
                    raise RedirectParseError(
                        f"{exc} Gave up after {self.attempts} unreadable answers."
                    ) from None
                self._say(f"{exc} Try again ({self.attempts - attempt} left).")
        if receiver is not None:
            raise receiver.timeout_error(request.timeout)
        raise AuthorizationTimeout(
            f"The authorization was not completed within {request.timeout:g} s. "
            "Authorize again when you are ready."
        )


def _code_of(result: RedirectResult) -> str:
    if result.error is not None or not result.code:
        raise _oauth_error(
            what="The authorization",
            status=None,
            error=result.error or "invalid_request",
            error_description=result.error_description,
            secrets=[result.code],
        )
    return result.code
