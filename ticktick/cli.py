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
from .endpoints import resolve_host
from .errors import ConfigurationError, TickTickError
from .store import DEFAULT_CACHE_PATH, FileStore, TokenIdentity, TokenStore, write_private_file
from .token import TokenDict, expire_time_of, is_expired, parse_token_literal, readable_time

# `ticktick-auth token` must start fast (it runs inside `$(...)` in scripts), so
# login's modules (requests, subprocess, getpass, ...) are imported inside it,
# typing only for the type checker, and `token` with its usual flags is parsed
# without argparse (see _quick_token_args).
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import argparse
    import types
    from collections.abc import Callable, Sequence
    from typing import Any

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
    from .redis_store import RedisStore

    return RedisStore(args.redis_url, identity=identity)


def _where(store: TokenStore) -> str:
    return f"cache file {store.describe()}" if isinstance(store, FileStore) else store.describe()


def _find_token(args: Options) -> tuple[TokenDict, str] | None:
    """The token from the environment variable or the store, with where it came from."""
    text = os.environ.get(args.env_key, "") if args.env_key else ""
    if text.strip():
        token = parse_token_literal(
            text,
            source=f"The environment variable {args.env_key}",
            advice=f"Fix or unset {args.env_key}; 'ticktick-auth export' prints a valid value.",
        )
        return token, f"environment variable {args.env_key}"
    store = _store(args)
    cached = store.read()
    if cached is None:
        return None
    return cached, _where(store)


def _valid_token(args: Options) -> tuple[TokenDict, str]:
    """The token, or a `_Failure` saying why there is none."""
    found = _find_token(args)
    if found is None:
        where = f"{args.env_key} or " if args.env_key else ""
        raise _Failure(
            f"No token found in {where}{_where(_store(args))} for "
            f"{resolve_host(args.host).host}. Run '{_PROG} login' to get one."
        )
    token, source = found
    if is_expired(token, 60):
        expire_time = expire_time_of(token)
        when = readable_time(expire_time) if expire_time is not None else "an unknown time"
        raise _Failure(f"The token from {source} expired on {when}. Run '{_PROG} login'.")
    return token, source


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
        return f"{env_key}='{json.dumps(_public(token))}'"
    raise ConfigurationError(f"Unknown format {fmt!r}")  # pragma: no cover - argparse checks


def _emit(text: str, output_file: str | None) -> None:
    if output_file:
        from pathlib import Path

        path = Path(output_file)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_file(path, (text + "\n").encode(), what="the output file")
        print(f"Wrote {path} (mode 0600).", file=sys.stderr)
    else:
        print(text)


# -- commands ---------------------------------------------------------------------------


def _cmd_token(args: Options) -> int:
    token, _ = _valid_token(args)
    print(token["access_token"])
    return EXIT_OK


def _cmd_status(args: Options) -> int:
    found = _find_token(args)
    if found is None:
        where = _where(_store(args))
        print(f"No token for {resolve_host(args.host).host} in ", end="")
        print(f"{args.env_key} or {where}." if args.env_key else f"{where}.")
        print(f"Run '{_PROG} login' to get one.")
        return EXIT_FAILURE
    token, source = found
    days = _days_left(token)
    expire_time = expire_time_of(token)
    print(f"source:   {source}")
    print(f"store:    {'environment' if source.startswith('environment') else args.store}")
    print(f"host:     {resolve_host(args.host).host}")
    if args.client_id:
        print(f"client:   {args.client_id}")
    print(f"scope:    {token.get('scope', 'unknown')}")
    if expire_time is None or days is None:
        print("expires:  unknown (the token has no expire_time)")
        return EXIT_OK
    print(f"expires:  {readable_time(expire_time)} ({days:.1f} days left)")
    if is_expired(token, 60):
        print(f"status:   EXPIRED. Run '{_PROG} login'.")
        return EXIT_FAILURE
    if args.min_days is not None and days < args.min_days:
        print(f"status:   fewer than {args.min_days:g} days left. Run '{_PROG} login' to renew.")
        return EXIT_EXPIRING
    print("status:   valid")
    return EXIT_OK


def _cmd_export(args: Options) -> int:
    token, source = _valid_token(args)
    days = _days_left(token)
    until = f", valid {days:.0f} more days" if days is not None else ""
    print(
        f"# From {source}{until}. This is a secret: store it as a masked CI variable "
        f"({args.env_key or DEFAULT_ENV_KEY}).",
        file=sys.stderr,
    )
    print(_format(token, args.format, args.env_key or DEFAULT_ENV_KEY))
    return EXIT_OK


def _cmd_logout(args: Options) -> int:
    store = _store(args)
    if store.delete():
        print(f"Removed the cached token ({_where(store)}).")
    else:
        print(f"No cached token in {_where(store)}.")
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


def _offer_outputs(token: TokenDict, read_line: ReadLine, timeout: float) -> None:
    """The seed guide's three offers, in order; the first accepted ends them."""
    expire_time = expire_time_of(token)
    expiry = f"{expire_time:.0f}" if expire_time is not None else "unknown"
    both = f"{token['access_token']}\n{expiry}"
    clipboard = clipboard_command()
    if clipboard is not None and _yes(
        read_line, "Do you want the token to be copied to the clipboard? [Y/n]: ", timeout
    ):
        if _copy(both, clipboard):
            print("Copied the token and its expiration (two lines) to the clipboard.")
            return
        print("Copying to the clipboard failed.")
    if _yes(read_line, "Do you want to print the token and its expiration? [Y/n]: ", timeout):
        when = readable_time(expire_time) if expire_time is not None else "unknown"
        print(f"access_token: {token['access_token']}")
        print(f"expire_time:  {expiry} ({when})")
        return
    answer = _ask(
        read_line,
        "Enter the file path to save the token and expiration (empty to skip): ",
        timeout,
    )
    if not answer:
        return
    from pathlib import Path

    path = Path(answer).expanduser()
    if path.exists() and not _yes(
        read_line, f"{path} exists. Overwrite it? [y/N]: ", timeout, False
    ):
        print("Not saved.")
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_file(path, json.dumps(_public(token), indent=2).encode() + b"\n", what="the file")
    print(f"Saved the token to {path} (mode 0600).")


def _cmd_login(args: Options) -> int:
    from .oauth2 import OAuth2
    from .signon import SignOn, _read_terminal_line

    terminal = _has_terminal()
    read_line: ReadLine = _read_terminal_line

    def prompt(text: str) -> str:
        return _ask(read_line, text, args.timeout)

    def secret_prompt(text: str) -> str:
        import getpass

        return getpass.getpass(text, stream=sys.stderr).strip()

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
    token = oauth.authorize()
    days = _days_left(token)
    stored = "kept in memory only" if oauth.cache is None else f"stored in {_where(oauth.cache)}"
    if oauth.store_error is not None:  # not lost: it is shown or printed below
        stored = f"NOT {stored} (see above)"
    valid = f", valid {days:.0f} days" if days is not None else ""
    print(f"Signed on: token {stored}{valid}.", file=sys.stderr)
    unstored = oauth.store_error is not None and args.output in (None, "cache")
    if args.output is not None and args.output != "cache":
        _emit(_format(token, args.output, args.env_key or DEFAULT_ENV_KEY), args.output_file)
    elif terminal and (args.output is None or unstored):
        _offer_outputs(token, read_line, args.timeout)
    elif unstored:
        print("The token could not be stored, so here it is (JSON):", file=sys.stderr)
        print(_format(token, "json", args.env_key or DEFAULT_ENV_KEY))
    return EXIT_OK


# -- the parser ---------------------------------------------------------------------------


def _common_defaults() -> dict[str, Any]:
    """Defaults of the options every command takes (shared by both parsers)."""
    return {
        "host": os.environ.get("TICKTICK_HOST", "ticktick.com"),
        "cache_path": os.environ.get("TICKTICK_CACHE_PATH", DEFAULT_CACHE_PATH),
        "env_key": DEFAULT_ENV_KEY,
        "client_id": os.environ.get("TICKTICK_CLIENT_ID"),
        "scope": None,
        "store": os.environ.get("TICKTICK_STORE", "file"),
        "redis_url": os.environ.get("TICKTICK_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "debug": False,
    }


_VALUE_OPTIONS = ("--host", "--cache-path", "--env-key", "--client-id", "--scope")


def _quick_token_args(argv: Sequence[str]) -> Options | None:
    """Parse ``token`` and its usual options without argparse; ``None`` for anything else.

    Anything unusual (``--help``, abbreviations, a missing value, another command)
    returns ``None`` and goes to argparse, which gives the usual help and errors.
    """
    import types

    if not argv or argv[0] != "token":
        return None
    values = _common_defaults()
    if values["store"] != "file":
        return None
    rest = list(argv[1:])
    while rest:
        option = rest.pop(0)
        if option == "--debug":
            values["debug"] = True
            continue
        name, equals, value = option.partition("=")
        if name not in _VALUE_OPTIONS:
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        values[name[2:].replace("-", "_")] = value
    return types.SimpleNamespace(**values, func=_cmd_token, command="token")


def _parser() -> argparse.ArgumentParser:
    import argparse

    defaults = _common_defaults()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--host",
        default=defaults["host"],
        help="ticktick.com (default), dida365.com, or a server's base URL",
    )
    common.add_argument(
        "--cache-path",
        default=defaults["cache_path"],
        help="the token cache file (default: %(default)s)",
    )
    common.add_argument(
        "--env-key",
        default=defaults["env_key"],
        help="the variable holding a token dict (default: %(default)s; '' to ignore)",
    )
    common.add_argument(
        "--client-id",
        default=defaults["client_id"],
        help="the app's client id (default: $TICKTICK_CLIENT_ID)",
    )
    common.add_argument("--scope", default=defaults["scope"], help="the scope asked for")
    common.add_argument(
        "--store",
        choices=("file", "keyring", "redis"),
        default=defaults["store"],
        help="where the token is kept (default: %(default)s; $TICKTICK_STORE)",
    )
    common.add_argument(
        "--redis-url",
        default=defaults["redis_url"],
        help="the Redis server of --store redis (default: $TICKTICK_REDIS_URL or %(default)s)",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Get and keep an OAuth2 token for the TickTick (or Dida365) Open API.",
        epilog=(
            "exit codes: 0 success; 1 failure (no usable token, refused, timed out); "
            "2 bad usage; 3 'status --min-days' found fewer days left; 130 interrupted"
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
            "$TICKTICK_CLIENT_SECRET or asked for without echo; it is never a flag."
        ),
    )
    login.add_argument(
        "--redirect-uri",
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
        "--timeout", type=float, default=300.0, help="seconds to finish signing on (default: 300)"
    )
    login.add_argument("--no-cache", action="store_true", help="do not write the cache file")
    login.add_argument(
        "--output",
        choices=("cache", "json", "env-dict", "dotenv"),
        default=None,
        help="print the token in this form instead of asking (cache: print nothing)",
    )
    login.add_argument("--output-file", default=None, help="write --output to this file (0600)")
    login.set_defaults(func=_cmd_login)

    token = commands.add_parser(
        "token",
        parents=[common],
        help="print a valid access token, nothing else",
        description=(
            "Print a valid access token from the environment or the cache file, and "
            "nothing else. No network, no prompt; exit 1 with a one-line reason if none."
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
        type=float,
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
        choices=("env-dict", "json", "dotenv"),
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
    args = _quick_token_args(argv) or _parser().parse_args(argv)
    if args.scope is None and args.func is _cmd_login:
        args.scope = DEFAULT_SCOPE
    try:
        result: int = args.func(args)
    except TickTickError as exc:
        if args.debug:
            raise
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"\n{_PROG}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
