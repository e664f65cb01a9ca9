"""``ticktick-auth login --api-token``: check a personal API token and keep it.

The token is read without echo on a terminal, or from standard input when it is not
one (``... | ticktick-auth login --api-token``): never from the command line, where it
would land in the shell's history and in every process listing. It is checked with
``GET /open/v1/project`` before it is kept, and kept in the chosen store like an
OAuth token (0600, atomic, locked), bound to its host and the kind ``api_token``.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

from ..apitoken import MAX_API_TOKEN, ApiToken, api_token_dict, check_api_token, where_to_create
from ..endpoints import resolve_host
from ..errors import Unauthorized
from ..resolution import where
from .commands import _command, _store
from .output import EXIT_OK, Failure, UsageError, _show

if TYPE_CHECKING:
    from .output import Options

PROMPT = "Paste your personal API token (it is not shown): "


def _check_api_token_usage(args: Options) -> None:
    """Refuse the flags of an OAuth sign-on that make no sense with ``--api-token``."""
    given = [
        flag
        for flag, value in (
            ("--no-cache", args.no_cache),
            ("--output", args.output is not None),
            ("--output-file", args.output_file is not None),
        )
        if value
    ]
    if given:
        raise UsageError(
            f"--api-token keeps the token in the store (--store, --cache-path); "
            f"{', '.join(given)} {'are' if len(given) > 1 else 'is'} for a sign-on. Leave "
            f"{'them' if len(given) > 1 else 'it'} out ('ticktick-auth export --api-token' "
            "prints the kept token)."
        )


def _read_piped(timeout: float) -> bytes:
    """Standard input up to its end (at most a little more than a token can need)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return b""
    chunks: list[bytes] = []

    def read() -> None:
        try:
            chunks.append(stream.read(MAX_API_TOKEN + 2))
        except (OSError, ValueError):  # closed, or not readable
            chunks.append(b"")

    reader = threading.Thread(target=read, name="ticktick-read-token", daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        raise Failure(
            f"No end of standard input within {timeout:g} s (--timeout): the token is read "
            'from standard input up to its end, e.g. \'printf %s "$TOKEN" | ticktick-auth '
            "login --api-token'. Nothing was stored."
        )
    return chunks[0] if chunks else b""


def _read_hidden(timeout: float) -> str:
    """A line from the terminal, not echoed, within *timeout* seconds (``--timeout``)."""
    from ..errors import AuthorizationTimeout, ReauthorizationRequired
    from ..signon.terminal import read_hidden_line

    try:
        return read_hidden_line(PROMPT, timeout)
    except AuthorizationTimeout:
        raise Failure(
            f"No personal API token pasted within {timeout:g} s (--timeout). Nothing was stored."
        ) from None
    except ReauthorizationRequired:  # input closed, or not text
        raise Failure("No personal API token given (input closed). Nothing was stored.") from None


def _read_token(timeout: float) -> str:
    """The token: asked for without echo on a terminal, else read from standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        text = _read_hidden(timeout)
        source = "The pasted personal API token"
    else:
        raw = _read_piped(timeout)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Failure(
                "Standard input is not UTF-8 text, so it holds no personal API token. "
                "Nothing was stored."
            ) from None
        source = "The personal API token read from standard input"
    text = text.strip()  # a pasted line's blanks, `echo`'s line break
    if not text:
        raise Failure(
            "No personal API token given. Pipe it to standard input (never as an "
            "argument: it would land in the shell's history), e.g. 'printf %s \"$TOKEN\" | "
            "ticktick-auth login --api-token', or run the command in a terminal to paste it. "
            "Nothing was stored."
        )
    return check_api_token(text, source)


def _cmd_login_api_token(args: Options) -> int:
    """Read a personal API token, check it with TickTick, keep it in the store."""
    host = resolve_host(args.host).host
    token = _read_token(args.timeout)
    provider = ApiToken(token, host=args.host)
    from ..api import OpenAPI

    try:
        projects = OpenAPI(provider).list_projects()
    except Unauthorized:
        raise Failure(
            f"TickTick refused this personal API token (HTTP 401 to GET /open/v1/project): it "
            f"was revoked or mistyped. Nothing was stored. Create a new one "
            f"{where_to_create(host)}, then run '{_command(args, 'login')}' again."
        ) from None
    store = _store(args)
    store.write(api_token_dict(token, checked_at=time.time()))
    count = len(projects) if isinstance(projects, list) else 0
    _show(
        f"Checked with {host} ({count} project{'s' if count != 1 else ''} listed): personal "
        f"API token stored in {where(store)}, expiry unknown. '{_command(args, 'status')}' "
        "shows when it was last checked.",
        file=sys.stderr,
    )
    if getattr(args, "profile", None) is not None:  # for the next login and every command
        from .profile import _remember

        _show(_remember(args, None, None), file=sys.stderr)
    return EXIT_OK
