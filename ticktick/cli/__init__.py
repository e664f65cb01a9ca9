"""The ``ticktick-auth`` command (also ``python -m ticktick``).

Commands:

* ``login``: sign on in a browser and keep the token (cache file, clipboard, screen,
  a file, or a CI format);
* ``token``: print a valid access token and nothing else, for scripts;
* ``status``: where the token comes from and how long it lasts; ``--min-days`` makes
  it a CI expiry alarm;
* ``export``: print the value to store as the ``ACCESS_TOKEN_DICT`` CI secret;
* ``logout``: remove the cached token;
* ``doctor``: check the setup (credentials, redirect URI and its port, the store, the
  token, the clock, the Open API), each failure with its fix.

Every command takes ``--profile NAME`` (default ``$TICKTICK_PROFILE``): the settings
that ``login --profile NAME`` remembered (client id, redirect URI, host, scope, store;
never the secret) and the profile's own token; ``status --all`` lists every profile
(`ticktick.profiles`).

Exit codes: 0 success; 1 failure (no usable token, refused, timed out, ...);
2 bad usage; 3 ``status --min-days`` found fewer days left; 130 interrupted.

``token``, ``status``, ``export`` and ``logout`` make no network request, never prompt,
and do not import ``requests``, so that they start fast.

This module reads the command line: one check per kind of value (used for a flag and
for the environment variable that is its default alike), the environment, and
``token`` with its usual flags without argparse (`quick_token_args`, the fast path:
docs/architecture.md); anything else goes to argparse (`ticktick.cli.parser`). The
commands are in `commands` and `login`; how the command talks, in `output`.
"""

from __future__ import annotations

import os
import sys

from .._defaults import DEFAULT_REDIS_URL, DEFAULT_SCOPE, MAX_TIMEOUT
from ..endpoints import DIDA365, TICKTICK, check_redirect_uri, is_loopback, resolve_host
from ..errors import ConfigurationError, TickTickError, speak_in_flags
from ..stores import DEFAULT_CACHE_PATH
from .commands import _cmd_token, _recorded_host
from .output import (
    _FLAGS,
    DEFAULT_ENV_KEY,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    UsageError,
    _escaped,
    _show,
)

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from .output import Options

__all__ = ["main"]


# -- checking values ------------------------------------------------------------------
#
# One check per kind of value, used for a flag (through argparse) and for the
# environment variable that is its default alike. A check returns the value or
# raises ValueError with a reason that never repeats a secret.

_STORES = ("file", "keyring", "redis")


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


_USE_RECORDED_HOST = ("token", "status", "export", "logout", "doctor")
"""The commands whose default host is the one recorded with the cached token."""


def _apply_environment(args: Options) -> None:
    """Fill each option not given on the command line from its variable, checked as the flag.

    With neither ``--host`` nor ``TICKTICK_HOST``, `_USE_RECORDED_HOST`'s commands use
    the host recorded with the token in the cache file (of the file store), if any.

    An explicit ``--cache-path`` names a file, so it selects the file store unless
    ``--store`` is given too: ``TICKTICK_STORE`` does not turn it into another store.

    With ``--profile NAME`` (or ``TICKTICK_PROFILE``) the profile's settings come
    between the flags and the variables (``ticktick.cli.profile``).
    """
    if getattr(args, "cache_path", None) is not None and getattr(args, "store", "") is None:
        args.store = "file"
    if args.command == "login" and _selects_nothing(args):
        from .profile import _use_default_profile

        _use_default_profile(args)  # "ticktick-auth login" again needs no flags
    if getattr(args, "profile", None) is not None or os.environ.get("TICKTICK_PROFILE"):
        from .profile import _apply_profile, _named_profile

        profile = _named_profile(args)
        if profile is not None and not getattr(args, "all", False):
            _apply_profile(args, profile)  # flags, then the profile, then the variables
    host_given = getattr(args, "host", None) is not None or "TICKTICK_HOST" in os.environ
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
    env_key = getattr(args, "env_key", None)
    if (
        not host_given
        and args.command in _USE_RECORDED_HOST
        and args.store == "file"
        and not (env_key and env_key in os.environ)  # that token records no host
    ):
        # After `login --host URL`, the other commands find its token without --host.
        _adopt_recorded_host(args)


def _selects_nothing(args: Options) -> bool:
    """Whether no flag or variable names a profile, an app, a store or an API token."""
    given = ("profile", "client_id", "cache_path", "store", "api_token")
    variables = ("TICKTICK_PROFILE", "TICKTICK_CLIENT_ID", "TICKTICK_CACHE_PATH", "TICKTICK_STORE")
    return not any(getattr(args, name, None) for name in given) and not any(
        os.environ.get(name) for name in variables
    )


def _adopt_recorded_host(args: Options) -> None:
    """Use the host recorded in the cache file if it is a region or this machine.

    A cache file may come with a checkout: a host it names elsewhere is not adopted
    (the default stays), so that no file sends a token, or the advice to sign on,
    to a server the person did not choose; one line on stderr says how to use it.
    """
    recorded = _recorded_host(args)
    if recorded is None:
        return
    try:
        endpoints = resolve_host(recorded)
    except ConfigurationError:
        return  # not a usable host: the default stays, and the token is not used
    if endpoints not in (TICKTICK, DIDA365):
        import shlex
        from urllib.parse import urlsplit

        if not is_loopback(urlsplit(endpoints.host).hostname):
            host = endpoints.host
            _show(
                f"{PROG}: The token in {args.cache_path} was issued for {host}; "
                f"pass --host {shlex.quote(host)} to use it.",
                file=sys.stderr,
            )
            return
    args.host = recorded


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
        "profile": None,
        "debug": False,
    }


def _profile_check(text: str) -> str:
    """A profile name (its check is imported only when ``--profile`` is given)."""
    from .profile import _profile_name

    return _profile_name(text)


# `token`'s usual options, parsed without argparse, each checked as argparse checks it.
_QUICK_OPTIONS: dict[str, Callable[[str], str]] = {
    "--host": _host,
    "--cache-path": _nonempty,
    "--env-key": str,
    "--client-id": _nonempty,
    "--scope": _scope,
    "--profile": _profile_check,
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


# -- running a command -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ticktick-auth`` with *argv*; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    # Every message, the library's too, names flags (--host), not arguments (host=).
    speaking = speak_in_flags(_FLAGS)
    try:
        return _main(argv)
    finally:
        speak_in_flags(speaking)


def _main(argv: Sequence[str]) -> int:
    quick = quick_token_args(argv)
    args: Options
    if quick is None:
        from .parser import parser

        args = parser().parse_args(argv)
    else:
        args = quick
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
        if args.command == "login":
            if args.scope is None:
                args.scope = DEFAULT_SCOPE
            from .login import _check_login_usage

            _check_login_usage(args)
    except UsageError as exc:
        _show(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TickTickError as exc:  # e.g. a profiles file that cannot be read
        if args.debug:
            raise
        _show(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        result: int = args.func(args)
    except TickTickError as exc:
        if args.debug:
            raise
        _show(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _show(file=sys.stderr)
        _show(f"{PROG}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
