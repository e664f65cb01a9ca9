"""The ``ticktick-auth`` command (also ``python -m ticktick``).

Commands:

* ``login``: sign on in a browser and keep the token (cache file, clipboard, screen,
  a file, or a CI format);
* ``token``: print a valid access token and nothing else, for scripts;
* ``status``: where the token comes from and how long it lasts; ``--min-days`` makes
  it a CI expiry alarm;
* ``export``: print the value to store as the ``ACCESS_TOKEN_DICT`` CI secret;
* ``logout``: remove the cached token.

Exit codes: 0 success; 1 failure (no usable token, refused, timed out, ...);
2 bad usage; 3 ``status --min-days`` found fewer days left; 130 interrupted.

``token``, ``status``, ``export`` and ``logout`` make no network request, never prompt,
and do not import ``requests``, so that they start fast.
"""

from __future__ import annotations

import json
import os
import sys
import time

from . import __version__
from ._defaults import DEFAULT_REDIS_URL, MAX_TIMEOUT
from .endpoints import check_redirect_uri, resolve_host
from .errors import (
    AuthorizationTimeout,
    ConfigurationError,
    ReauthorizationRequired,
    TickTickError,
    TokenNotStoredWarning,
)
from .resolution import Resolution, find_stored_token, where
from .store import (
    DEFAULT_CACHE_PATH,
    EnvSource,
    FileStore,
    TokenIdentity,
    TokenStore,
    write_private_file,
)
from .token import DEFAULT_EXPIRY_MARGIN, TokenDict, expire_time_of, is_expired, readable_time

# `ticktick-auth token` must start fast (it runs inside `$(...)` in scripts), so
# login's modules (requests, subprocess, getpass, ...) are imported inside it,
# typing only for the type checker, and `token` with its usual flags is parsed
# without argparse (see _quick_token_args).
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import argparse
    import types
    from collections.abc import Callable, Sequence
    from typing import Any, TextIO

    from .signon import ReadLine

    Options = argparse.Namespace | types.SimpleNamespace

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_EXPIRING = 3
EXIT_INTERRUPTED = 130

DEFAULT_ENV_KEY = "ACCESS_TOKEN_DICT"
DEFAULT_SCOPE = "tasks:write tasks:read"
_PROG = "ticktick-auth"


class _Failure(TickTickError):
    """A command failed for a reason already worded for the person (exit 1)."""


# -- checking values ------------------------------------------------------------------
#
# One check per kind of value, used for a flag (through argparse) and for the
# environment variable that is its default alike. A check returns the value or
# raises ValueError with a reason that never repeats a secret.

_STORES = ("file", "keyring", "redis")
_FORMATS = ("json", "env-dict", "dotenv")


class _UsageError(TickTickError):
    """The command line or its environment cannot work (exit 2)."""


def _sentence(text: str) -> str:
    """*text* ending in one full stop, however its composed parts ended."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("is empty")
    if "\0" in text:
        raise ValueError("contains a NUL character")
    return text


def _host(text: str) -> str:
    """A host as ``OAuth2(host=...)`` takes it."""
    try:
        resolve_host(_nonempty(text))
    except ConfigurationError as exc:
        raise ValueError(f"is not a usable host: {str(exc).rstrip('.')}") from None
    return text


def _store_name(text: str) -> str:
    if text not in _STORES:
        raise ValueError(f"is {text!r}, not one of {', '.join(_STORES)}")
    return text


def _scope(text: str) -> str:
    if not text.split():
        raise ValueError("is empty; use 'tasks:write tasks:read'")
    return text


def _redirect_uri(text: str) -> str:
    """A redirect URI as ``OAuth2(redirect_uri=...)`` takes it (blanks around it dropped)."""
    try:
        return check_redirect_uri(_nonempty(text).strip())
    except ConfigurationError as exc:
        raise ValueError(f"is not usable: {exc}") from None


def _redis_url(text: str) -> str:
    """A Redis URL: ``redis://[:password@]host[:port][/db]``, ``rediss://`` or ``unix://``."""
    from urllib.parse import urlsplit

    form = "use redis://[:password@]host[:port][/db], rediss://... or unix:///path"
    try:
        parts = urlsplit(_nonempty(text).strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"has a port that is not a number from 1 to 65535; {form}") from None
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"names no socket path; {form}")
        return text
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"is not a Redis URL; {form}")
    if port == 0:
        raise ValueError(f"has port 0; {form}")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError(f"has a database that is not a number; {form}")
    return text


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of {what}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a finite number of {what}")
    return value


def _seconds(text: str) -> float:
    """Finite positive seconds, at most `MAX_TIMEOUT`."""
    value = _number(text, "seconds")
    if not 0 < value <= MAX_TIMEOUT:
        raise ValueError(f"{text!r} is not between 0 and {MAX_TIMEOUT:g} seconds")
    return value


def _days(text: str) -> float:
    """A finite number of days, not negative."""
    value = _number(text, "days")
    if value < 0:
        raise ValueError(f"{text!r} is a negative number of days")
    return value


# The options whose default comes from an environment variable:
# (attribute, option, variable, check, default when the variable is unset).
_FROM_ENVIRONMENT: tuple[tuple[str, str, str, Callable[[str], str], str | None], ...] = (
    ("host", "--host", "TICKTICK_HOST", _host, "ticktick.com"),
    ("cache_path", "--cache-path", "TICKTICK_CACHE_PATH", _nonempty, DEFAULT_CACHE_PATH),
    ("client_id", "--client-id", "TICKTICK_CLIENT_ID", _nonempty, None),
    ("store", "--store", "TICKTICK_STORE", _store_name, "file"),
    ("redis_url", "--redis-url", "TICKTICK_REDIS_URL", _redis_url, DEFAULT_REDIS_URL),
    ("redirect_uri", "--redirect-uri", "TICKTICK_REDIRECT_URI", _redirect_uri, None),
)


def _apply_environment(args: Options) -> None:
    """Fill each option not given on the command line from its variable, checked as the flag.

    An explicit ``--cache-path`` names a file, so it selects the file store unless
    ``--store`` is given too: ``TICKTICK_STORE`` does not turn it into another store.
    """
    if getattr(args, "cache_path", None) is not None and getattr(args, "store", "") is None:
        args.store = "file"
    for name, option, variable, check, default in _FROM_ENVIRONMENT:
        if not hasattr(args, name) or getattr(args, name) is not None:
            continue
        text = os.environ.get(variable)
        if text is None:
            setattr(args, name, default)
            continue
        try:
            setattr(args, name, check(text))
        except ValueError as exc:
            problem = _sentence(
                f"The environment variable {variable} (the default of {option}) {exc}"
            )
            raise _UsageError(f"{problem} Fix or unset {variable}, or pass {option}.") from None


def _check_login_usage(args: Options) -> None:
    """Refuse a login whose token would be kept nowhere, or whose flags contradict."""
    printing = args.output in _FORMATS
    if args.output_file is not None and not printing:
        raise _UsageError(
            "--output-file needs --output json, env-dict or dotenv (the form to write)."
        )
    if args.no_cache and args.output == "cache":
        raise _UsageError("--no-cache with --output cache would keep the token nowhere.")
    if args.no_cache and not printing and not _has_terminal():
        raise _UsageError(
            "--no-cache with no terminal and no --output would keep the new token nowhere. "
            "Add --output json, env-dict or dotenv (and --output-file PATH to write it to a "
            "file), or drop --no-cache."
        )


# -- finding a token without network ----------------------------------------------------


def _store(args: Options, client_id: str | None = None) -> TokenStore:
    """The store chosen by ``--store`` (the file by default), for this host, app and scope."""
    host = resolve_host(args.host).host
    client = client_id or args.client_id or None
    if args.store == "file":
        return FileStore(args.cache_path, identity=TokenIdentity(host, client, args.scope))
    identity = TokenIdentity(host, client, args.scope or DEFAULT_SCOPE)
    if args.store == "keyring":
        from .keyring_store import KeyringStore

        return KeyringStore(identity=identity)
    if args.store == "redis":
        from .redis_store import RedisStore

        return RedisStore(args.redis_url, identity=identity)
    raise ConfigurationError(f"Unknown store {args.store!r}")  # pragma: no cover - checked


def _find(args: Options) -> Resolution:
    """The token `OAuth2` would resolve without signing on: the variable, then the store."""
    return find_stored_token(args.env_key or None, _store(args))


def _command(args: Options, command: str) -> str:
    """``ticktick-auth COMMAND`` with the options that select this host, app, scope and store."""
    import shlex

    parts = [_PROG, command]
    if args.client_id:
        parts += ["--client-id", args.client_id]
    parts += ["--host", resolve_host(args.host).host]  # always: see below
    if args.scope:
        parts += ["--scope", args.scope]
    if args.store != "file":
        parts += ["--store", args.store]
    else:
        parts += ["--cache-path", os.path.abspath(args.cache_path)]
    # --host and the store are named even when they are the defaults, so that the
    # TICKTICK_* variables where the command is run cannot send it elsewhere.
    return shlex.join(parts)


def _valid_token(args: Options) -> tuple[TokenDict, str]:
    """The token, or a `_Failure` saying why there is none."""
    found = _find(args)
    if found.token is not None and found.source is not None:
        return found.token, where(found.source)
    if found.expired:
        why = found.reason()
    else:
        env = f"{args.env_key} or " if args.env_key else ""
        why = f"No token found in {env}{where(_store(args))} for {resolve_host(args.host).host}"
    raise _Failure(f"{why}. Run '{_command(args, 'login')}' to get one.")


def _days_left(token: TokenDict) -> float | None:
    expire_time = expire_time_of(token)
    return None if expire_time is None else (expire_time - time.time()) / 86400


# -- formats ----------------------------------------------------------------------------


def _public(token: TokenDict) -> dict[str, Any]:
    return dict(token)


def _format(token: TokenDict, fmt: str, env_key: str) -> str:
    if fmt == "json":
        return json.dumps(_public(token))
    if fmt == "env-dict":
        return repr(_public(token))
    if fmt == "dotenv":
        # Single-quoted for a shell, `docker --env-file` and `parse_token_text` alike; a
        # ' in any field is written \u0027 (the same JSON) so it cannot end the quotes.
        quoted = json.dumps(_public(token)).replace("'", "\\u0027")
        return f"{env_key}='{quoted}'"
    raise ConfigurationError(f"Unknown format {fmt!r}")  # pragma: no cover - argparse checks


def _check_save_path(path: str, force: bool) -> None:
    """Fail at once if *path* cannot take a new file.

    It exists (and *force* is not given), it is a folder, or a part of its folder is a file.
    """
    if os.path.isdir(path):
        raise _Failure(f"Cannot save to {path}: it is a folder. Choose a file path.")
    if os.path.lexists(path) and not force:
        raise _Failure(f"{path} exists. Pass --force to replace it, or choose another path.")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise _Failure(f"Cannot save to {path}: {folder} is a file, not a folder.")


def _save(path: str, payload: bytes, force: bool) -> None:
    """Write *payload* to a new file *path* (mode 0600, its folder 0700 if made).

    An existing file is replaced (atomically) only with *force*.

    Raises:
        TickTickError: The file cannot be written; the message is one line.
    """
    _check_save_path(path, force)
    folder = os.path.dirname(path)
    try:
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise _Failure(f"Cannot create the folder {folder}: {exc.strerror}.") from None
    if force:
        write_private_file(path, payload, what="the file")
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise _Failure(
            f"{path} exists. Pass --force to replace it, or choose another path."
        ) from None
    except OSError as exc:
        raise _Failure(f"Cannot write {path}: {exc.strerror}.") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        os.unlink(path)
        raise _Failure(f"Cannot write {path}: {exc.strerror}.") from None


# -- commands ---------------------------------------------------------------------------


def _escaped(text: str) -> str:
    r"""*text* with each non-printable character written as its Python escape.

    ESC becomes ``\x1b``, a line break ``\n``, and so on; the rest is kept as is.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _show(
    text: str = "", *, file: TextIO | None = None, end: str = "\n", flush: bool = False
) -> None:
    """Print one line of the CLI's output: its single way to the terminal.

    Every message holds values the CLI did not write itself (a cache path from
    ``TICKTICK_CACHE_PATH``, a stored field, server text in an error), so every
    control character in *text* is shown escaped: such a value can neither fake a
    line of its own nor send escape sequences to the terminal. A line break the CLI
    means is *end*, or another call.
    """
    print(_escaped(text), file=file or sys.stdout, end=end, flush=flush)


def _plain(value: object) -> str:
    """*value* for one line of output: as is if printable, else quoted with escapes.

    A stored field (``scope``, ...) with a line break or a control character could
    otherwise fake a line of its own, such as ``status:   valid``.
    """
    text = str(value)
    return text if text.isprintable() else repr(text)


def _cmd_token(args: Options) -> int:
    token, _ = _valid_token(args)
    _show(token["access_token"])
    return EXIT_OK


def _cmd_status(args: Options) -> int:
    found = _find(args)
    if found.token is not None and found.source is not None:
        token, source = found.token, found.source
        skipped = found.expired
    elif found.expired:
        source, token = found.expired[-1]  # the one `login` renews last in the order
        skipped = found.expired[:-1]
    else:
        where_ = where(_store(args))
        _show(f"No token for {resolve_host(args.host).host} in ", end="")
        _show(f"{args.env_key} or {where_}." if args.env_key else f"{where_}.")
        _show(f"Run '{_command(args, 'login')}' to get one.")
        return EXIT_FAILURE
    days = _days_left(token)
    expire_time = expire_time_of(token)
    _show(f"source:   {_plain(where(source))}")
    for other, old in skipped:
        old_time = expire_time_of(old)
        when = readable_time(old_time) if old_time is not None else "an unknown time"
        _show(f"skipped:  {_plain(where(other))} (expired on {when})")
    _show(f"store:    {'environment' if isinstance(source, EnvSource) else args.store}")
    _show(f"host:     {_plain(resolve_host(args.host).host)}")
    if args.client_id:
        _show(f"client:   {_plain(args.client_id)}")
    _show(f"scope:    {_plain(token.get('scope', 'unknown'))}")
    if expire_time is None or days is None:
        _show("expires:  unknown (the token has no expire_time)")
        return EXIT_OK
    _show(f"expires:  {readable_time(expire_time)} ({days:.1f} days left)")
    if is_expired(token, DEFAULT_EXPIRY_MARGIN):
        _show(f"status:   EXPIRED. Run '{_command(args, 'login')}'.")
        return EXIT_FAILURE
    if args.min_days is not None and days < args.min_days:
        _show(
            f"status:   fewer than {args.min_days:g} days left. "
            f"Run '{_command(args, 'login')}' to renew."
        )
        return EXIT_EXPIRING
    _show("status:   valid")
    return EXIT_OK


def _cmd_export(args: Options) -> int:
    token, source = _valid_token(args)
    days = _days_left(token)
    until = f", valid {days:.0f} more days" if days is not None else ""
    _show(
        f"# From {source}{until}. This is a secret: store it as a masked CI variable "
        f"({args.env_key or DEFAULT_ENV_KEY}).",
        file=sys.stderr,
    )
    _show(_format(token, args.format, args.env_key or DEFAULT_ENV_KEY))
    return EXIT_OK


def _cmd_logout(args: Options) -> int:
    store = _store(args)
    if store.delete():
        _show(f"Removed the cached token ({where(store)}).")
    else:
        _show(f"No cached token in {where(store)}.")
    return EXIT_OK


# -- login --------------------------------------------------------------------------------


def _has_terminal() -> bool:
    from .signon import no_terminal_reason

    return no_terminal_reason() is None


def _ask(read_line: ReadLine, prompt: str, timeout: float) -> str:
    answer = read_line(prompt, timeout, lambda: False)
    return (answer or "").strip()


def _yes(read_line: ReadLine, prompt: str, timeout: float, default: bool = True) -> bool:
    answer = _ask(read_line, prompt, timeout).lower()
    return default if not answer else answer in ("y", "yes")


def _setting(
    value: str | None, variable: str, label: str, read: Callable[[str], str] | None
) -> str:
    value = value or os.environ.get(variable)
    if value:
        return value
    if read is None:
        raise _Failure(f"No {label} and no terminal to ask for it: set {variable}.")
    value = read(f"Enter your {label}: ")
    if not value:
        raise _Failure(f"No value given. Set {variable} or answer the prompt.")
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
    """The seed guide's three offers, in order; the first accepted ends them.

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
    import warnings

    from .oauth2 import OAuth2
    from .signon import SignOn, _decoded_answer, _prompt_failure, _read_terminal_line

    terminal = _has_terminal()
    read_line: ReadLine = _read_terminal_line
    if args.output_file is not None:
        _check_save_path(args.output_file, args.force)  # before anyone signs on

    def prompt(text: str) -> str:
        return _ask(read_line, text, args.timeout)

    def secret_prompt(text: str) -> str:
        import getpass

        try:
            return _decoded_answer(getpass.getpass(text, stream=sys.stderr), text).strip()
        except EOFError:  # Ctrl-D
            raise _prompt_failure(text) from None
        except UnicodeDecodeError:
            raise _prompt_failure(text, decodable=False) from None

    client_id = _setting(
        args.client_id, "TICKTICK_CLIENT_ID", "client_id", prompt if terminal else None
    )
    client_secret = _setting(
        None,
        "TICKTICK_CLIENT_SECRET",
        "client_secret",
        secret_prompt if terminal else None,
    )
    redirect_uri = _setting(
        args.redirect_uri,
        "TICKTICK_REDIRECT_URI",
        "OAuth redirect URL",
        prompt if terminal else None,
    )
    signon = SignOn(
        open_browser=False if args.no_browser else None,
        ask_to_open=terminal,
        capture=not args.no_capture,
        paste=terminal,
        read_line=read_line,
    )
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
    kept = oauth.cache is not None and oauth.store_error is None
    if args.output in _FORMATS:
        text = _format(token, args.output, args.env_key or DEFAULT_ENV_KEY)
        if args.output_file is None:
            _show(text)
            return EXIT_OK
        try:
            _save(args.output_file, (text + "\n").encode(), args.force)
        except TickTickError as exc:
            if kept:
                raise _Failure(
                    f"{exc} The token is stored; '{_command(args, 'export')}' prints it."
                ) from None
            _show(text)  # kept nowhere else: never lose it
            raise _Failure(f"{exc} The token was printed on standard output instead.") from None
        _show(f"Wrote {args.output_file} (mode 0600).", file=sys.stderr)
    elif terminal and (args.output is None or not kept):
        try:
            taken = _offer_outputs(token, read_line, args.timeout)
        except (AuthorizationTimeout, ReauthorizationRequired):
            # No answer in time, or standard input closed: the sign-on itself succeeded.
            where_kept = f"it is {stored}" if kept else "so here it is (JSON)"
            _show(f"No answer to the offers above; {where_kept}.", file=sys.stderr)
            if not kept:
                _print_json(token, args)
            return EXIT_OK
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
    return EXIT_OK


def _print_json(token: TokenDict, args: Options) -> None:
    """Print *token* as JSON on standard output: the last resort for a token kept nowhere."""
    _show(_format(token, "json", args.env_key or DEFAULT_ENV_KEY), flush=True)


# -- the parser ---------------------------------------------------------------------------


def _defaults() -> dict[str, Any]:
    """Defaults of the options every command takes (shared by both parsers).

    ``None`` stands for "from its environment variable" (see `_apply_environment`).
    """
    return {
        "host": None,
        "cache_path": None,
        "env_key": DEFAULT_ENV_KEY,
        "client_id": None,
        "scope": None,
        "store": None,
        "redis_url": None,
        "debug": False,
    }


# `token`'s usual options, parsed without argparse, each checked as argparse checks it.
_QUICK_OPTIONS: dict[str, Callable[[str], str]] = {
    "--host": _host,
    "--cache-path": _nonempty,
    "--env-key": str,
    "--client-id": _nonempty,
    "--scope": _scope,
}


def _quick_token_args(argv: Sequence[str]) -> Options | None:
    """Parse ``token`` and its usual options without argparse; ``None`` for anything else.

    Anything unusual (``--help``, abbreviations, a missing or bad value, another
    command) returns ``None`` and goes to argparse, which gives the usual help and errors.
    """
    import types

    if not argv or argv[0] != "token":
        return None
    values = _defaults()
    rest = list(argv[1:])
    while rest:
        option = rest.pop(0)
        if option == "--debug":
            values["debug"] = True
            continue
        name, equals, value = option.partition("=")
        check = _QUICK_OPTIONS.get(name)
        if check is None:
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        try:
            values[name[2:].replace("-", "_")] = check(value)
        except ValueError:
            return None
    return types.SimpleNamespace(**values, func=_cmd_token, command="token")


def _parser() -> argparse.ArgumentParser:
    import argparse

    def checked(check: Callable[[str], Any]) -> Callable[[str], Any]:
        """*check* as an argparse type: its reason becomes argparse's message."""

        def convert(text: str) -> Any:
            try:
                return check(text)
            except ValueError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        convert.__name__ = check.__name__.lstrip("_")
        return convert

    defaults = _defaults()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--host",
        type=checked(_host),
        default=defaults["host"],
        help="ticktick.com, dida365.com, or a server's base URL "
        "(default: $TICKTICK_HOST or ticktick.com)",
    )
    common.add_argument(
        "--cache-path",
        type=checked(_nonempty),
        default=defaults["cache_path"],
        help=f"the token cache file (default: $TICKTICK_CACHE_PATH or {DEFAULT_CACHE_PATH})",
    )
    common.add_argument(
        "--env-key",
        default=defaults["env_key"],
        help="the variable holding a token dict (default: %(default)s; '' to ignore)",
    )
    common.add_argument(
        "--client-id",
        type=checked(_nonempty),
        default=defaults["client_id"],
        help="the app's client id (default: $TICKTICK_CLIENT_ID)",
    )
    common.add_argument(
        "--scope", type=checked(_scope), default=defaults["scope"], help="the scope asked for"
    )
    common.add_argument(
        "--store",
        choices=_STORES,
        default=defaults["store"],
        help="where the token is kept (default: $TICKTICK_STORE or file)",
    )
    common.add_argument(
        "--redis-url",
        type=checked(_redis_url),
        default=defaults["redis_url"],
        help=f"the Redis server of --store redis (default: $TICKTICK_REDIS_URL or "
        f"{DEFAULT_REDIS_URL})",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Get and keep an OAuth2 token for the TickTick (or Dida365) Open API.",
        epilog=(
            "exit codes: 0 success; 1 failure (no usable token, refused, timed out); "
            "2 bad usage (of a flag or of the TICKTICK_* variable that is its default); "
            "3 'status --min-days' found fewer days left; 130 interrupted"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = commands.add_parser(
        "login",
        parents=[common],
        help="sign on in a browser and keep the token",
        description=(
            "Sign on in a browser and keep the token. The client secret is read from "
            "$TICKTICK_CLIENT_SECRET or asked for without echo; it is never a flag. "
            "A login whose token would be kept nowhere (--no-cache with no terminal and no "
            "--output) is refused before it starts."
        ),
    )
    login.add_argument(
        "--redirect-uri",
        type=checked(_redirect_uri),
        default=None,
        help="the redirect URI registered for the app (default: $TICKTICK_REDIRECT_URI)",
    )
    login.add_argument("--no-browser", action="store_true", help="do not open a browser")
    login.add_argument(
        "--no-capture",
        action="store_true",
        help="do not capture a loopback redirect; paste the redirected URL instead",
    )
    login.add_argument(
        "--timeout",
        type=checked(_seconds),
        default=300.0,
        help=f"seconds to finish signing on, more than 0 and at most {MAX_TIMEOUT:g} "
        "(default: 300)",
    )
    login.add_argument("--no-cache", action="store_true", help="do not write the cache file")
    login.add_argument(
        "--output",
        choices=("cache", *_FORMATS),
        default=None,
        help="print the token in this form instead of asking (cache: print nothing)",
    )
    login.add_argument(
        "--output-file",
        default=None,
        help="write the --output form (required with it) to this new file, mode 0600",
    )
    login.add_argument(
        "--force", action="store_true", help="let --output-file replace an existing file"
    )
    login.set_defaults(func=_cmd_login)

    token = commands.add_parser(
        "token",
        parents=[common],
        help="print a valid access token, nothing else",
        description=(
            "Print a valid access token from the environment or the cache file, and "
            "nothing else. An expired token in the variable falls through to the cache. "
            "No network, no prompt; exit 1 with a one-line reason if none."
        ),
    )
    token.set_defaults(func=_cmd_token)

    status = commands.add_parser(
        "status",
        parents=[common],
        help="where the token comes from and when it expires",
        description="Show where the token comes from, its host, scope and expiry.",
    )
    status.add_argument(
        "--min-days",
        type=checked(_days),
        default=None,
        help="exit 3 when fewer days are left (a CI expiry alarm)",
    )
    status.set_defaults(func=_cmd_status)

    export = commands.add_parser(
        "export",
        parents=[common],
        help="print the value to store as the ACCESS_TOKEN_DICT CI secret",
        description="Print the token dict to store as the ACCESS_TOKEN_DICT CI secret.",
    )
    export.add_argument(
        "--format",
        choices=_FORMATS,
        default="env-dict",
        help="env-dict (a Python dict literal, as ticktick-py reads it; default), json, dotenv",
    )
    export.set_defaults(func=_cmd_export)

    logout = commands.add_parser(
        "logout",
        parents=[common],
        help="remove the cached token",
        description="Remove the cached token file (and nothing else).",
    )
    logout.set_defaults(func=_cmd_logout)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ticktick-auth`` with *argv*; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    quick = _quick_token_args(argv)
    args = quick or _parser().parse_args(argv)
    # The fast path does not import logging for this (it would cost `token` a tenth of
    # its start-up) while every value it could log (the options, TICKTICK_*) is printable.
    values = [*vars(quick).values()] if quick is not None else []
    values += [text for name, text in os.environ.items() if name.startswith("TICKTICK_")]
    plain = quick is not None and all(str(value).isprintable() for value in values)
    restore = None if plain and "logging" not in sys.modules else _escape_log_lines()
    try:
        return _run(args)
    finally:
        if restore is not None:
            restore()


def _escape_log_lines() -> Callable[[], None]:
    """Escape control characters in the library's log lines, as `_show` does in the CLI's.

    A logged warning (a cache file set aside, ...) names a path the CLI did not write.
    Returns the function that undoes this.
    """
    import logging

    def escape(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.isprintable():
            record.msg, record.args = _escaped(message), None
        return True

    logger = logging.getLogger("ticktick")
    logger.addFilter(escape)
    return lambda: logger.removeFilter(escape)


def _run(args: Options) -> int:
    try:
        _apply_environment(args)
        if args.func is _cmd_login:
            if args.scope is None:
                args.scope = DEFAULT_SCOPE
            _check_login_usage(args)
    except _UsageError as exc:
        _show(f"{_PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result: int = args.func(args)
    except TickTickError as exc:
        if args.debug:
            raise
        _show(f"{_PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _show(file=sys.stderr)
        _show(f"{_PROG}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
