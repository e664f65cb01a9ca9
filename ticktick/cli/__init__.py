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

import os
import sys

from .._defaults import DEFAULT_SCOPE
from ..errors import TickTickError
from .options import _apply_environment, _check_login_usage, parser, quick_token_args
from .output import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, PROG, UsageError, _escaped, _show

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .output import Options

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ticktick-auth`` with *argv*; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    quick = quick_token_args(argv)
    args = quick or parser().parse_args(argv)
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
            _check_login_usage(args)
    except UsageError as exc:
        _show(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
