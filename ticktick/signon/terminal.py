"""The terminal: whether a person can be asked, whether a browser can open, and prompts."""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Callable, Mapping, Sequence

from .._deadline import CHECK_INTERVAL, poll
from ..errors import (
    AuthorizationTimeout,
    ReauthorizationRequired,
)


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


def read_terminal_line(prompt: str, timeout: float, cancelled: Callable[[], bool]) -> str | None:
    """Read one line from the terminal within *timeout* s; ``None`` if *cancelled* first."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    if sys.platform != "win32":
        was_cancelled = False

        def answered(wait: float) -> bool:
            nonlocal was_cancelled
            was_cancelled = cancelled()
            return was_cancelled or bool(select.select([sys.stdin], [], [], wait)[0])

        if not poll(answered, timeout, interval=CHECK_INTERVAL):
            sys.stderr.write("\n")
            raise AuthorizationTimeout(
                f"No answer within {timeout:g} s. Authorize again when you are ready."
            )
        if was_cancelled:
            sys.stderr.write("\n")
            return None
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise prompt_failure(prompt, decodable=False) from None
    if not line:
        raise prompt_failure(prompt)
    return decoded_answer(line, prompt)


def read_hidden_line(prompt: str, timeout: float) -> str:
    """Read one line from the terminal without echo, within *timeout* s (a secret).

    The one hidden prompt of the package, shared by every secret it asks for:
    ``getpass`` has no timeout. The terminal's echo comes back on Enter, Ctrl-C,
    the timeout and SIGTERM alike (the signal is then delivered as before). Where
    there is no ``termios`` (Windows), ``getpass`` it is, without a timeout.

    Raises:
        AuthorizationTimeout: No answer within *timeout* seconds.
        ReauthorizationRequired: Standard input closed, or the answer was not text.
    """
    try:
        import termios
    except ImportError:  # pragma: no cover - Windows
        import getpass

        try:
            return decoded_answer(getpass.getpass(prompt, stream=sys.stderr), prompt)
        except EOFError:
            raise prompt_failure(prompt) from None
        except UnicodeDecodeError:
            raise prompt_failure(prompt, decodable=False) from None
    import signal
    import threading

    fd = sys.stdin.fileno()
    before = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO  # the local modes: no echo, still line by line
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
    main = previous is not None and previous != signal.SIG_IGN  # a handler of ours for now

    def restore() -> None:
        termios.tcsetattr(fd, termios.TCSAFLUSH, before)

    def terminated(signum: int, frame: object) -> None:
        restore()
        sys.stderr.write("\n")
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)  # as it would have been without the prompt

    if main:
        signal.signal(signal.SIGTERM, terminated)
    termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
    try:
        return read_terminal_line(prompt, timeout, lambda: False) or ""
    finally:
        restore()
        if main:
            signal.signal(signal.SIGTERM, previous)
        sys.stderr.write("\n")  # the person's Enter was not echoed


def decoded_answer(answer: str, prompt: str) -> str:
    """*answer*, unless it holds bytes the terminal's encoding could not read.

    Under the C locale Python reads such bytes as lone surrogates (``surrogateescape``)
    rather than failing: they are refused here, as a strict decoder refuses them.
    """
    try:
        answer.encode("utf-8")
    except UnicodeEncodeError:
        raise prompt_failure(prompt, decodable=False) from None
    return answer


def prompt_name(prompt: str) -> str:
    """The prompt *prompt* as messages name it: ``"Enter your client_id"``, no colon."""
    return prompt.strip().rstrip(":").strip()


def prompt_failure(prompt: str, *, decodable: bool = True) -> ReauthorizationRequired:
    """The error for a prompt that got no answer: input closed, or not text.

    Args:
        prompt: The prompt as shown (``"Enter your client_id: "``); the error names it.
        decodable: ``False`` when the answer's bytes were not text in the terminal's
            encoding, ``True`` when standard input was closed (Ctrl-D).
    """
    name = prompt_name(prompt)
    if decodable:
        what = f"Standard input closed at the prompt {name!r} before an answer was given"
    else:
        encoding = getattr(sys.stdin, "encoding", None) or "the terminal's encoding"
        what = f"The answer to the prompt {name!r} is not {encoding} text"
    return ReauthorizationRequired(f"{what}. Authorize again from a terminal and answer it.")
