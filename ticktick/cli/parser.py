"""The full command line, with argparse: every command, its flags and ``--help``.

``ticktick-auth token`` with its usual flags never comes here (`quick_token_args` in
`options`); everything else does.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .._defaults import DEFAULT_REDIS_URL, DEFAULT_SIGNON_TIMEOUT, MAX_TIMEOUT, __version__
from ..stores import DEFAULT_CACHE_PATH
from . import (
    _STORES,
    _days,
    _defaults,
    _host,
    _nonempty,
    _profile_check,
    _redirect_uri,
    _redis_url,
    _scope,
    _seconds,
)
from .commands import _cmd_export, _cmd_logout, _cmd_status, _cmd_token
from .doctor import _cmd_doctor
from .login import _cmd_login
from .output import _FORMATS, PROG

# argparse's messages that quote a value from the command line, which may be a secret,
# and any quoted value shaped like a token (long, no dots, slashes or colons).
_QUOTED_VALUE = re.compile(
    r"(ignored explicit argument|invalid choice:|invalid [\w.]+ value:) (?:'[^']*'|\"[^\"]*\")"
)
_TOKEN_LIKE = re.compile(r"'[\w~+=-]{20,}'")
_NEVER_AN_ARGUMENT = (
    "A personal API token is never an argument: 'login --api-token' asks for it without "
    "echo, or reads it from standard input (printf '%s' \"$TOKEN\" | ticktick-auth login "
    "--api-token)."
)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors never quote a value given on the command line.

    A value may be a secret (``login --api-token tp_...``, a token pasted in the wrong
    place): an unexpected argument is counted, not shown, and a refused value is not
    repeated. Its subcommands' parsers are of this class too.
    """

    api_token_given = False  # set by the top parser for the whole command line

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse *args*; refuse unexpected arguments without quoting them."""
        _Parser.api_token_given = any(
            arg == "--api-token" or arg.startswith("--api-token=") for arg in args or ()
        )
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            many = "s" if len(extras) > 1 else ""
            self.error(f"{len(extras)} unexpected argument{many} (not shown: one may be a secret)")
        return parsed

    def error(self, message: str) -> NoReturn:
        """Print the usage and *message*, without the values it quoted; exit 2."""
        message = _QUOTED_VALUE.sub(r"\1 (its value is not shown)", message)
        message = _TOKEN_LIKE.sub("(a value not shown)", message)
        if _Parser.api_token_given:
            message = f"{message.rstrip('.')}. {_NEVER_AN_ARGUMENT}"
        super().error(message)


def parser() -> argparse.ArgumentParser:
    """The full command line (argparse), for every command and ``--help``."""

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
    common = _Parser(add_help=False)
    host_help = (
        "ticktick.com, dida365.com, or a server's base URL (default: $TICKTICK_HOST, else "
        "for all but login the host recorded with the cached token if it is a region or "
        "this machine and the token variable is unset, else ticktick.com)"
    )
    # --host before the command too: the command's own (SUPPRESS: none given leaves
    # the one before it) wins when both are given.
    common.add_argument("--host", type=checked(_host), default=argparse.SUPPRESS, help=host_help)
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
    profile_help = (
        "use the settings remembered by 'login --profile NAME' (default: $TICKTICK_PROFILE); "
        "flags still win, and login updates the profile"
    )
    common.add_argument(
        "--profile", type=checked(_profile_check), default=argparse.SUPPRESS, help=profile_help
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    parser = _Parser(
        prog=PROG,
        description="Get and keep an OAuth2 token for the TickTick (or Dida365) Open API.",
        epilog=(
            "exit codes: 0 success; 1 failure (no usable token, refused, timed out); "
            "2 bad usage (of a flag or of the TICKTICK_* variable that is its default); "
            "3 'status --min-days' found fewer days left; 130 interrupted"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", type=checked(_host), default=defaults["host"], help=host_help)
    parser.add_argument(
        "--profile", type=checked(_profile_check), default=defaults["profile"], help=profile_help
    )
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
        "--no-pkce",
        action="store_true",
        help="sign on without PKCE (for a server that refuses code_challenge)",
    )
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
    login.add_argument(
        "--api-token",
        action="store_true",
        help="keep a personal API token instead of signing on: read without echo on a "
        "terminal, else from standard input (never an argument), checked with TickTick",
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
        description=(
            "Show where the token comes from, its host, scope and expiry; with --all, "
            "one line per profile."
        ),
    )
    status.add_argument(
        "--min-days",
        type=checked(_days),
        default=None,
        help="exit 3 when fewer days are left (a CI expiry alarm)",
    )
    status.add_argument(
        "--all",
        action="store_true",
        help="list every profile with its host, days left and token source",
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
        help="remove the cached token (--revoke: revoke it at the server first)",
        description=(
            "Remove the cached token. With --revoke, first revoke it at the server's "
            "revocation endpoint, when the server's metadata advertises one (this needs the "
            "client secret: $TICKTICK_CLIENT_SECRET, or asked for); when it advertises none "
            "the token is only removed here, and that is said. A failed revocation keeps "
            "the token, so that it can be tried again."
        ),
    )
    logout.add_argument(
        "--revoke",
        action="store_true",
        help="revoke the token at the server first (where it advertises how)",
    )
    logout.add_argument(
        "--timeout",
        type=checked(_seconds),
        default=DEFAULT_SIGNON_TIMEOUT,
        help="seconds to answer the client secret prompt of --revoke, more than 0 and at "
        f"most {MAX_TIMEOUT:g} (default: {DEFAULT_SIGNON_TIMEOUT:g})",
    )
    logout.set_defaults(func=_cmd_logout)
    for command in (token, status, export, logout):
        command.add_argument(
            "--api-token",
            action="store_true",
            help="only the personal API token kept by 'login --api-token' (with --store "
            "keyring or redis, which key it by host)",
        )

    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="check the setup, each line with its fix",
        description=(
            "Check the setup and print each check with its fix: the client id and "
            "secret are set (never shown), the redirect URI is well formed and its loopback "
            "port free, the store is readable and private, the token is there and its days "
            "left, and, with the network, the clock against the server's and the token "
            "against the Open API. Exit 0 when no check fails, 1 otherwise."
        ),
    )
    doctor.add_argument(
        "--redirect-uri",
        dest="redirect_uri_given",
        metavar="REDIRECT_URI",
        default=None,
        help="the redirect URI registered for the app, checked (default: $TICKTICK_REDIRECT_URI)",
    )
    doctor.add_argument(
        "--offline",
        action="store_true",
        help="skip the checks that need the network (the clock and the Open API)",
    )
    doctor.add_argument(
        "--api-token",
        action="store_true",
        help="check a personal API token's setup (no app: no client id, secret or redirect "
        "URI); found by itself in the cache file that 'login --api-token' wrote",
    )
    doctor.set_defaults(func=_cmd_doctor)
    return parser
