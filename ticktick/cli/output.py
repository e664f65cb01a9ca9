"""How the command talks: exit codes, its one way to the terminal, formats, saved files."""

from __future__ import annotations

import json
import os
import sys

from ..errors import ConfigurationError, TickTickError
from ..stores.disk import write_private_file

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    import argparse
    import types
    from typing import Any, TextIO

    from ..token import TokenDict

    Options = argparse.Namespace | types.SimpleNamespace
    """The parsed command line (argparse's, or the fast path's for ``token``)."""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_EXPIRING = 3
EXIT_INTERRUPTED = 130

DEFAULT_ENV_KEY = "ACCESS_TOKEN_DICT"
PROG = "ticktick-auth"


class Failure(TickTickError):
    """A command failed for a reason already worded for the person (exit 1)."""


class UsageError(TickTickError):
    """The command line or its environment cannot work (exit 2)."""


_FORMATS = ("json", "env-dict", "dotenv")
"""The forms a token can be printed or saved in (``--output``)."""


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
        raise Failure(f"Cannot save to {path}: it is a folder. Choose a file path.")
    if os.path.lexists(path) and not force:
        raise Failure(f"{path} exists. Pass --force to replace it, or choose another path.")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise Failure(f"Cannot save to {path}: {folder} is a file, not a folder.")


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
        raise Failure(f"Cannot create the folder {folder}: {exc.strerror}.") from None
    if force:
        write_private_file(path, payload, what="the file")
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise Failure(
            f"{path} exists. Pass --force to replace it, or choose another path."
        ) from None
    except OSError as exc:
        raise Failure(f"Cannot write {path}: {exc.strerror}.") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        os.unlink(path)
        raise Failure(f"Cannot write {path}: {exc.strerror}.") from None


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
    means is *end*, or another call. A letter the terminal's encoding cannot show
    (``é`` in a path, on an ASCII terminal) is shown as its Python escape.
    """
    stream = file or sys.stdout
    try:
        print(_escaped(text), file=stream, end=end, flush=flush)
    except UnicodeEncodeError:  # nothing was written: the line is encoded whole first
        encoding = getattr(stream, "encoding", None) or "ascii"
        shown = _escaped(text).encode(encoding, "backslashreplace").decode(encoding)
        print(shown, file=stream, end=end, flush=flush)


_FLAGS = {
    "host": "--host",
    "redirect_uri": "--redirect-uri",
    "cache_path": "--cache-path",
    "cache_path=None": "--no-cache",
    "env_key": "--env-key",
    "client_id": "--client-id",
    "scope": "--scope",
    "signon_timeout": "--timeout",
    "pkce": "--no-pkce",
    "pkce=False": "--no-pkce",
    "capture": "--no-capture",
    "capture=False": "--no-capture",
}
"""Each argument of the library (``OAuth2(host=...)``) and the flag that gives it here
(and an argument's value that has a flag of its own). While the command runs, the
library's messages name these flags (`ticktick.errors.speak_in_flags`)."""


def _plain(value: object) -> str:
    """*value* for one line of output: as is if printable, else quoted with escapes.

    A stored field (``scope``, ...) with a line break or a control character could
    otherwise fake a line of its own, such as ``status:   valid``.
    """
    text = str(value)
    return text if text.isprintable() else repr(text)


def _print_json(token: TokenDict, args: Options) -> None:
    """Print *token* as JSON on standard output: the last resort for a token kept nowhere."""
    _show(_format(token, "json", args.env_key or DEFAULT_ENV_KEY), flush=True)
