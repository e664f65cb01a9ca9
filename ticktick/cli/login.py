"""``ticktick-auth login``: sign on, then offer where to keep the token."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

from ..errors import (
    AuthorizationTimeout,
    ReauthorizationRequired,
    TickTickError,
    TokenNotStoredWarning,
)
from ..resolution import where
from ..token import expire_time_of, readable_time
from .commands import _command, _days_left, _store
from .output import (
    _FORMATS,
    DEFAULT_ENV_KEY,
    EXIT_FAILURE,
    EXIT_OK,
    PROG,
    Failure,
    UsageError,
    _check_save_path,
    _format,
    _print_json,
    _public,
    _save,
    _show,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..signon import ReadLine
    from ..token import TokenDict
    from .output import Options


def _has_terminal() -> bool:
    from ..signon import no_terminal_reason

    return no_terminal_reason() is None


def _check_login_usage(args: Options) -> None:
    """Refuse a login whose token would be kept nowhere, or whose flags contradict."""
    if getattr(args, "api_token", False):  # args made by hand (tests) may lack it
        from .apitoken import _check_api_token_usage

        _check_api_token_usage(args)
        return
    printing = args.output in _FORMATS
    if args.output_file is not None and not printing:
        raise UsageError(
            "--output-file needs --output json, env-dict or dotenv (the form to write)."
        )
    if args.no_cache and args.output == "cache":
        raise UsageError("--no-cache with --output cache would keep the token nowhere.")
    if args.no_cache and not printing and not _has_terminal():
        raise UsageError(
            "--no-cache with no terminal and no --output would keep the new token nowhere. "
            "Add --output json, env-dict or dotenv (and --output-file PATH to write it to a "
            "file), or drop --no-cache."
        )


# -- login --------------------------------------------------------------------------------


def redirect_plan(redirect_uri: str, *, capture: bool = True) -> str | None:
    """Check *redirect_uri* and say in one line what ``login`` will listen on for it.

    Returns ``None`` when its loopback port cannot be bound here: the sign-on then
    says so (`LoopbackPortInUse`), in one line of its own.

    Raises:
        ConfigurationError: It is not an ``http``/``https`` URL with a host and a port
            from 1 to 65535 (scheme, host and port are checked here; the path is shown).
    """
    from urllib.parse import urlsplit

    from ..endpoints import check_redirect_uri, is_loopback
    from ..signon.loopback import (
        bind_error,
        loopback_address,
        loopback_addresses,
        missing_loopback,
    )

    check_redirect_uri(redirect_uri)
    sent = f"Redirect URI {redirect_uri} (sent as is: it must be registered exactly so)"
    paste = "after Allow, paste the address the browser shows"
    where = loopback_address(redirect_uri)
    if where is not None and capture:
        first, port, path = where
        bound = []
        for address in loopback_addresses(redirect_uri):
            error = bind_error(address, port)
            if error is not None and missing_loopback(error) and address != first:
                continue  # no IPv6 loopback here: the receiver skips it too
            if error is not None:
                return None
            bound.append(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
        return f"{sent}: listening on {' and '.join(bound)} for the path {path}."
    if where is not None:
        return f"{sent}: not listening (--no-capture); {paste}."
    if is_loopback(urlsplit(redirect_uri).hostname):
        return f"{sent}: https on this machine cannot be captured (no certificate); {paste}."
    return f"{sent}: not on this machine, so nothing listens here; {paste}."


def _ask(read_line: ReadLine, prompt: str, timeout: float) -> str:
    answer = read_line(prompt, timeout, lambda: False)
    return (answer or "").strip()


def _yes(read_line: ReadLine, prompt: str, timeout: float, default: bool = True) -> bool:
    answer = _ask(read_line, prompt, timeout).lower()
    return default if not answer else answer in ("y", "yes")


def _setting(
    value: str | None,
    variable: str,
    label: str,
    read: Callable[[str], str] | None,
    flag: str | None = None,
) -> str:
    """*value*, else *variable*'s, else the answer to a prompt (in words, not Python's)."""
    value = value or os.environ.get(variable)
    if value:
        return value
    given = f"pass {flag} or set {variable}" if flag else f"set {variable}"
    if read is None:
        raise Failure(f"No {label} and no terminal to ask for it: {given}.")
    value = read(f"Enter your {label}: ")
    if not value:
        raise Failure(f"No {label} given: {given}, or answer the prompt.")
    return value


def clipboard_command() -> list[str] | None:
    """The command that copies standard input to the clipboard here, if there is one."""
    import shutil

    candidates: list[tuple[str, list[str], bool]] = [
        ("pbcopy", [], sys.platform == "darwin"),
        ("clip.exe", [], True),
        ("wl-copy", [], bool(os.environ.get("WAYLAND_DISPLAY"))),
        ("xclip", ["-selection", "clipboard"], bool(os.environ.get("DISPLAY"))),
        ("xsel", ["--clipboard", "--input"], bool(os.environ.get("DISPLAY"))),
    ]
    for name, options, usable in candidates:
        path = shutil.which(name)
        if usable and path:
            return [path, *options]
    return None


def _copy(text: str, command: list[str]) -> bool:
    # Runs only the clipboard tool found by name.
    import subprocess  # nosec B404

    try:
        # A fixed argument list (no shell) naming a clipboard tool found with shutil.which.
        subprocess.run(command, input=text.encode(), check=True, timeout=5)  # noqa: S603 # nosec B603
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _offer_outputs(token: TokenDict, read_line: ReadLine, timeout: float) -> bool:
    """The three offers (clipboard, print, file), in order; the first accepted ends them.

    Returns whether one was taken. A path that cannot be written is asked for again.
    """
    expire_time = expire_time_of(token)
    expiry = f"{expire_time:.0f}" if expire_time is not None else "unknown"
    both = f"{token['access_token']}\n{expiry}"
    clipboard = clipboard_command()
    if clipboard is not None and _yes(
        read_line, "Do you want the token to be copied to the clipboard? [Y/n]: ", timeout
    ):
        if _copy(both, clipboard):
            _show("Copied the token and its expiration (two lines) to the clipboard.")
            return True
        _show("Copying to the clipboard failed.")
    if _yes(read_line, "Do you want to print the token and its expiration? [Y/n]: ", timeout):
        when = readable_time(expire_time) if expire_time is not None else "unknown"
        _show(f"access_token: {token['access_token']}")
        _show(f"expire_time:  {expiry} ({when})")
        return True
    payload = json.dumps(_public(token), indent=2).encode() + b"\n"
    while True:
        answer = _ask(
            read_line,
            "Enter the file path to save the token and expiration (empty to skip): ",
            timeout,
        )
        if not answer:
            return False
        path = os.path.expanduser(answer)
        force = os.path.lexists(path) and not os.path.isdir(path)
        if force and not _yes(read_line, f"{path} exists. Overwrite it? [y/N]: ", timeout, False):
            _show("Not saved.")
            continue
        try:
            _save(path, payload, force)
        except TickTickError as exc:
            _show(f"Not saved: {exc}")
            continue
        _show(f"Saved the token to {path} (mode 0600).")
        return True


def _cmd_login(args: Options) -> int:
    if getattr(args, "api_token", False):  # args made by hand (tests) may lack it
        from .apitoken import _cmd_login_api_token

        return _cmd_login_api_token(args)
    import warnings

    from ..oauth2 import OAuth2
    from ..signon import SignOn
    from ..signon.terminal import (
        prompt_name,
        read_hidden_line,
        read_terminal_line,
    )

    terminal = _has_terminal()
    read_line: ReadLine = read_terminal_line
    if args.output_file is not None:
        _check_save_path(args.output_file, args.force)  # before anyone signs on

    def prompt(text: str) -> str:
        return _ask(read_line, text, args.timeout)

    def secret_prompt(text: str) -> str:
        return read_hidden_line(text, args.timeout).strip()

    client_id = _setting(
        args.client_id,
        "TICKTICK_CLIENT_ID",
        "client id",
        prompt if terminal else None,
        "--client-id",
    )
    profile = getattr(args, "profile", None)
    from_keyring = None
    if profile is not None:
        from .profile import _keyring_secret

        from_keyring = _keyring_secret(args, client_id)
    client_secret = _setting(
        from_keyring,
        "TICKTICK_CLIENT_SECRET",
        "client secret",
        secret_prompt if terminal else None,
    )
    redirect_uri = _setting(
        args.redirect_uri,
        "TICKTICK_REDIRECT_URI",
        "OAuth redirect URL",
        prompt if terminal else None,
        "--redirect-uri",
    )
    signon = SignOn(
        open_browser=False if args.no_browser else None,
        ask_to_open=terminal,
        capture=not args.no_capture,
        paste=terminal,
        read_line=read_line,
    )
    plan = redirect_plan(redirect_uri, capture=not args.no_capture)
    if plan is not None and (terminal or "paste the address" not in plan):
        # With no terminal there is nowhere to paste: the sign-on's error says so, once.
        _show(plan, file=sys.stderr)
    oauth = OAuth2(
        client_id,
        client_secret,
        redirect_uri,
        scope=args.scope,
        cache_path=None,
        store=None if args.no_cache else _store(args, client_id),
        host=args.host,
        signon_timeout=args.timeout,
        interactive=True,
        authorizer=signon,
        resolve=False,
        pkce=not args.no_pkce,
    )
    with warnings.catch_warnings():
        # The library also logs it (a plain line on standard error): say it once.
        warnings.simplefilter("ignore", TokenNotStoredWarning)
        token = oauth.authorize()
    days = _days_left(token)
    stored = "not stored (--no-cache)" if oauth.cache is None else f"stored in {where(oauth.cache)}"
    if oauth.store_error is not None:  # not lost: it is shown or printed below
        stored = f"NOT {stored} (see above)"
    valid = f", valid {days:.0f} days" if days is not None else ""
    _show(f"Signed on: token {stored}{valid}.", file=sys.stderr)

    def finish(code: int) -> int:
        """Save the profile once the token is delivered: a failure never costs the token."""
        if profile is None:
            return code
        from .profile import _remember  # the settings that worked, for the next login

        try:
            _show(_remember(args, client_id, redirect_uri), file=sys.stderr)
        except TickTickError as exc:
            _show(
                f"{PROG}: signed on, but the profile {profile!r} was not saved: {exc} Run "
                f"'{_command(args, 'login')}' again once that is fixed.",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        return code

    kept = oauth.cache is not None and oauth.store_error is None
    if args.output in _FORMATS:
        text = _format(token, args.output, args.env_key or DEFAULT_ENV_KEY)
        if args.output_file is None:
            _show(text)
            return finish(EXIT_OK)
        try:
            _save(args.output_file, (text + "\n").encode(), args.force)
        except TickTickError as exc:
            if kept:
                raise Failure(
                    f"{exc} The token is stored; '{_command(args, 'export')}' prints it."
                ) from None
            _show(text)  # kept nowhere else: never lose it
            raise Failure(f"{exc} The token was printed on standard output instead.") from None
        _show(f"Wrote {args.output_file} (mode 0600).", file=sys.stderr)
    elif terminal and (args.output is None or not kept):
        asked: list[str] = []

        def offer_line(text: str, timeout: float, cancelled: Callable[[], bool]) -> str | None:
            asked.append(text)
            return read_line(text, timeout, cancelled)

        try:
            taken = _offer_outputs(token, offer_line, args.timeout)
        except (AuthorizationTimeout, ReauthorizationRequired) as exc:
            # No answer in time, or standard input closed: the sign-on itself succeeded.
            why = "no answer in time" if isinstance(exc, AuthorizationTimeout) else "input closed"
            where_kept = f"it is {stored}" if kept else "so here it is (JSON)"
            at = repr(prompt_name(asked[-1])) if asked else "the offers"
            _show(f"No answer at {at} ({why}); {where_kept}.", file=sys.stderr)
            if not kept:
                _print_json(token, args)
            return finish(EXIT_OK)
        except KeyboardInterrupt:
            if not kept:  # never lose it, even when interrupted
                _show(file=sys.stderr)
                _show(
                    "Interrupted; the token is kept nowhere, so here it is (JSON):", file=sys.stderr
                )
                _print_json(token, args)
            raise
        if not taken and oauth.cache is None:  # --no-cache, and every offer declined
            _show("The token was not kept anywhere (--no-cache, and no offer taken).")
        elif not taken and not kept:
            _show("The token could not be stored, so here it is (JSON):", file=sys.stderr)
            _print_json(token, args)
    elif not kept:
        _show("The token could not be stored, so here it is (JSON):", file=sys.stderr)
        _print_json(token, args)
    return finish(EXIT_OK)
