"""The command line: one check per kind of value, the environment, and both parsers.

`quick_token_args` parses ``token`` with its usual flags without argparse (the fast
path, see docs/architecture.md); anything else goes to argparse (`parser`).
"""

from __future__ import annotations

import os

from .._defaults import DEFAULT_REDIS_URL, DEFAULT_SIGNON_TIMEOUT, MAX_TIMEOUT
from .._version import __version__
from ..endpoints import check_redirect_uri, resolve_host
from ..errors import ConfigurationError
from ..stores import DEFAULT_CACHE_PATH
from .commands import _cmd_export, _cmd_logout, _cmd_status, _cmd_token
from .output import DEFAULT_ENV_KEY, PROG, UsageError

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any

    from .output import Options


def _has_terminal() -> bool:
    from ..signon import no_terminal_reason

    return no_terminal_reason() is None


# -- checking values ------------------------------------------------------------------
#
# One check per kind of value, used for a flag (through argparse) and for the
# environment variable that is its default alike. A check returns the value or
# raises ValueError with a reason that never repeats a secret.

_STORES = ("file", "keyring", "redis")
_FORMATS = ("json", "env-dict", "dotenv")


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
            raise UsageError(f"{problem} Fix or unset {variable}, or pass {option}.") from None


def _check_login_usage(args: Options) -> None:
    """Refuse a login whose token would be kept nowhere, or whose flags contradict."""
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


def quick_token_args(argv: Sequence[str]) -> Options | None:
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


def parser() -> argparse.ArgumentParser:
    """The full command line (argparse), for every command and ``--help``."""
    import argparse

    from .login import _cmd_login

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
        prog=PROG,
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
        default=DEFAULT_SIGNON_TIMEOUT,
        help=f"seconds to finish signing on, more than 0 and at most {MAX_TIMEOUT:g} "
        f"(default: {DEFAULT_SIGNON_TIMEOUT:g})",
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
