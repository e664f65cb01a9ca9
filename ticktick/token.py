"""Token dictionaries: parsing, validation and expiry.

A token is the dict TickTick's token endpoint returns, plus two fields that
ticktick-py adds and that existing cache files and ``ACCESS_TOKEN_DICT`` variables
carry::

    {"access_token": "628ff081-...", "token_type": "bearer", "expires_in": 15551999,
     "scope": "tasks:read tasks:write",
     "expire_time": 1637192935,                          # Unix seconds
     "readable_expire_time": "Wed Nov 17 15:48:55 2021"}  # local time, for people

Tokens are kept as `TokenDict`, a plain ``dict`` whose ``repr()`` hides the
access token, so that code written for ticktick-py (``info["access_token"]``,
``json.dumps(info)``) works unchanged and a stray ``print`` leaks nothing.

A personal API token is kept as a token dict too, of the ``kind`` ``api_token`` and
with no expiry: ``{"access_token": "tp_...", "token_type": "bearer", "kind":
"api_token", "checked_at": 1779000000}`` (when TickTick last accepted it).

Expiry: when a dict has no ``expire_time`` but has ``expires_in`` and ``issued_at``
(Unix seconds), the expiry is ``issued_at + expires_in``. With ``expires_in`` alone
the moment of issue is unknown, so the expiry is unknown: the token is used until
the server refuses it.
"""

from __future__ import annotations

import json
import re
import time

from .errors import REDACTED, TokenFormatError

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    _DictBase = dict[str, Any]
else:
    _DictBase = dict

__all__ = [
    "API_TOKEN_KIND",
    "DEFAULT_EXPIRY_MARGIN",
    "TokenDict",
    "bearer_problem",
    "expire_time_of",
    "is_api_token",
    "is_expired",
    "parse_token_literal",
    "token_from_response",
    "validate_token_dict",
]

DEFAULT_EXPIRY_MARGIN = 60
"""Seconds before its expiry at which a token counts as expired (ticktick-py's value)."""

MAX_LITERAL_SIZE = 64 * 1024
"""The longest token literal accepted from an environment variable, in characters."""

API_TOKEN_KIND = "api_token"  # noqa: S105 # nosec B105 - a kind, not a secret
"""The ``kind`` of a stored personal API token (an OAuth token has no ``kind``)."""

_SECRET_KEYS = frozenset({"access_token", "refresh_token", "id_token"})


class TokenDict(_DictBase):
    """A token dictionary whose ``repr()`` and ``str()`` hide the token values."""

    def __repr__(self) -> str:
        shown = {key: (REDACTED if key in _SECRET_KEYS else value) for key, value in self.items()}
        return f"TokenDict({shown!r})"

    __str__ = __repr__


MAX_TIME = 253402300799
"""The last second of the year 9999: later times cannot be shown, so they are malformed."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_seconds(value: object) -> bool:
    """A finite, non-negative number of seconds no later than `MAX_TIME`."""
    return _is_number(value) and 0 <= value <= MAX_TIME  # type: ignore[operator]


def expire_time_of(token: Mapping[str, Any]) -> float | None:
    """Return the token's expiry in Unix seconds, or ``None`` when it is unknown."""
    value = token.get("expire_time")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def is_api_token(token: Mapping[str, Any]) -> bool:
    """Tell whether a stored token dict is a personal API token (its ``kind``)."""
    return token.get("kind") == API_TOKEN_KIND


def is_expired(token: Mapping[str, Any], margin: float, now: float | None = None) -> bool:
    """Tell whether *token* expires within *margin* seconds (``False`` when unknown)."""
    expire_time = expire_time_of(token)
    if expire_time is None:
        return False
    current = time.time() if now is None else now
    return expire_time - current < margin


def readable_time(expire_time: float) -> str:
    """Format an expiry as ticktick-py does: ``time.asctime`` in local time."""
    return time.asctime(time.localtime(expire_time))


_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750's ``b64token``: what a bearer token may be made of."""


def bearer_problem(value: str) -> str | None:
    """Say why *value* is not a bearer token (never quoting it), or ``None`` if it is one.

    The one rule for every token, an OAuth token or a personal API token: RFC 6750's
    ``b64token`` characters (visible ASCII), no whitespace.
    """
    if _B64TOKEN.fullmatch(value):
        return None
    for position, char in enumerate(value, 1):
        if char.isspace():
            return f"a space or line break at character {position}"
        if not char.isascii():
            return f"a non-ASCII character at character {position}"
    # Only ASCII without whitespace is left: some character b64token does not allow.
    return "a character a bearer token cannot have (only letters, digits, -._~+/ and a final =)"


def token_problem(token: object) -> str | None:
    """Say what is wrong with a stored token dict, or ``None`` when it is usable.

    ``access_token`` (and ``refresh_token``, unless absent or null) must be a bearer
    token: RFC 6750's ``b64token`` characters, no whitespace. The problem is described
    without quoting the value.
    """
    if not isinstance(token, dict):
        return f"is a {type(token).__name__}, not a dict"
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        return "has no 'access_token' string"
    if any(not isinstance(key, str) for key in token):
        return "has a key that is not a string"
    for field in ("access_token", "refresh_token"):
        value = token.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            return f"has {field!r} set to something that is not a non-empty string"
        reason = bearer_problem(value)
        if reason is not None:
            return f"has {field!r} set to something that is not a bearer token ({reason})"
    if "expire_time" in token and not _is_seconds(token["expire_time"]):
        return "has an 'expire_time' that is not a Unix time in seconds"
    for field in ("expires_in", "issued_at"):
        if field in token and not _is_seconds(token[field]):
            return f"has an '{field}' that is not a number of seconds"
    if (
        "expire_time" not in token
        and "expires_in" in token
        and "issued_at" in token
        and token["expires_in"] + token["issued_at"] > MAX_TIME
    ):
        return "has an 'issued_at' and 'expires_in' that add up past the year 9999"
    token_type = token.get("token_type")
    if token_type is not None and (
        not isinstance(token_type, str) or token_type.lower() != "bearer"
    ):
        return "has a 'token_type' other than 'bearer'"
    return None


def validate_token_dict(token: object, *, source: str, advice: str) -> TokenDict:
    """Check a stored token dict and return it as a `TokenDict`.

    Args:
        token: The value read from a variable or a file.
        source: Where it came from, used in the error, e.g. ``"The variable ACCESS_TOKEN_DICT"``.
        advice: What to do about a bad value, appended to the error.

    Raises:
        TokenFormatError: The value is not a usable token. The message names the
            problem, never the value.
    """
    problem = token_problem(token)
    if problem is not None:
        raise TokenFormatError(f"{source} {problem}. {advice}")
    assert isinstance(token, dict)  # noqa: S101 - token_problem checked it; narrows the type
    result = TokenDict(token)
    if "expire_time" not in result and "expires_in" in result and "issued_at" in result:
        result["expire_time"] = int(result["issued_at"] + result["expires_in"])
    expire_time = expire_time_of(result)
    if expire_time is not None and not isinstance(result.get("readable_expire_time"), str):
        result["readable_expire_time"] = readable_time(expire_time)
    return result


def token_from_response(body: object, *, now: float | None = None) -> TokenDict:
    """Validate a token endpoint's JSON answer and add ``expire_time`` fields.

    The answer must be a JSON object with a non-empty ``access_token`` string and an
    integer ``expires_in``; ``token_type``, when present, must be ``bearer`` in any case.

    Raises:
        TokenFormatError: The answer is not a token.
    """
    advice = "The server's answer is not a token; authorize again, and report it if it persists."
    if isinstance(body, dict):
        expires_in = body.get("expires_in")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise TokenFormatError(
                "The token endpoint's answer has no positive integer 'expires_in'. " + advice
            )
    token = validate_token_dict(body, source="The token endpoint's answer", advice=advice)
    issued = int(time.time() if now is None else now)
    if issued + token["expires_in"] > MAX_TIME:
        raise TokenFormatError(
            "The token endpoint's answer has an 'expires_in' past the year 9999. " + advice
        )
    token["expire_time"] = issued + token["expires_in"]
    token["readable_expire_time"] = readable_time(token["expire_time"])
    return token


def parse_token_literal(text: str, *, source: str, advice: str) -> TokenDict:
    """Parse a token dict written as JSON or as a Python literal, safely.

    The Python-literal form is what ticktick-py users keep in ``ACCESS_TOKEN_DICT``
    (``{'access_token': '...', 'expire_time': 1637192935, ...}``). It is read with
    `ast.literal_eval`, which evaluates no code, after a size check.

    Values as people paste them are read too: surrounded by whitespace, starting with
    a UTF-8 byte order mark (before or inside the quotes), or wrapped in one pair of
    matching quotes (``'{...}'``,
    as ``docker --env-file`` and many CI settings pages keep the line
    ``ACCESS_TOKEN_DICT='{...}'`` that ``ticktick-auth export --format dotenv`` prints).

    Raises:
        TokenFormatError: The text is too long, not a literal, or not a usable token.
            The message says what is wrong and at which character, and never repeats
            the text.
    """
    if len(text) > MAX_LITERAL_SIZE:
        raise TokenFormatError(
            f"{source} is {len(text)} characters long, more than the {MAX_LITERAL_SIZE} "
            f"a token dict can need. {advice}"
        )
    stripped = _unwrapped(text)
    value = _literal(stripped, text.find(stripped), source, advice)
    if isinstance(value, str):
        # A quoted string: it may hold the dict ('{"access_token": ...}' read as a
        # literal), with a byte order mark inside the quotes too.
        inner = _unwrapped(value)
        if not inner.startswith("{"):
            raise TokenFormatError(
                f"{source} is a quoted string with no dict inside the quotes: a token dict "
                f"starts with '{{' (such as {{'access_token': ...}}). {advice}"
            )
        value = _literal(inner, None, source, advice)
    return validate_token_dict(value, source=source, advice=advice)


def _unwrapped(text: str) -> str:
    """*text* without surrounding whitespace and one UTF-8 byte order mark."""
    return text.strip().removeprefix("\ufeff").strip()


def _literal(text: str, shift: int | None, source: str, advice: str) -> object:
    """Read *text* as JSON or a Python literal, as is or without one pair of quotes.

    *shift* is where *text* starts in what the person wrote (for the character
    positions in errors), or ``None`` when positions would mean nothing.
    """
    candidates = [(text, shift)]
    inner = _unwrapped(text[1:-1])
    if text[:1] in ("'", '"') and text[-1:] == text[0] and inner[:1] == "{" and inner[-1:] == "}":
        candidates.append((inner, None if shift is None else shift + text.find(inner)))
    for candidate, _ in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            pass
        except RecursionError:
            raise TokenFormatError(
                f"{source} is nested too deeply to be a token. {advice}"
            ) from None
    import ast
    import contextlib  # here, not at the top: `ticktick-auth token` never needs it

    unreadable = (SyntaxError, ValueError, TypeError, MemoryError, RecursionError)
    *others, (last, start) = candidates
    for candidate, _ in others:
        with contextlib.suppress(*unreadable):
            return ast.literal_eval(candidate)
    try:
        return ast.literal_eval(last)
    except unreadable as exc:
        # Neither the exception's text nor the value is shown: both would quote it.
        raise _unreadable(last, start, exc, source, advice) from None


def _unreadable(
    text: str, shift: int | None, exc: Exception, source: str, advice: str
) -> TokenFormatError:
    """The error for a value that is neither JSON nor a literal, saying where it breaks."""
    if not isinstance(exc, SyntaxError):
        return TokenFormatError(
            f"{source} is neither JSON nor a Python dict literal: it holds something other "
            f"than plain values (a name, a call or an expression). {advice}"
        )
    keyless = _keyless_entry(text)
    if keyless is not None:
        where = "" if shift is None else f" at character {shift + keyless}"
        return TokenFormatError(
            f"{source} is not a dict literal: it has a value without a key{where} (every "
            "entry is 'key': value; ticktick-py's example has a date string without its "
            f"key 'readable_expire_time', which can be removed). {advice}"
        )
    offset = _offset(text, exc.lineno, exc.offset)
    where = "" if shift is None or offset is None else f" at character {shift + offset}"
    return TokenFormatError(
        f"{source} is neither JSON nor a Python dict literal: it cannot be read{where}. {advice}"
    )


def _line_starts(text: str) -> list[int]:
    return [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]


def _offset(text: str, line: int | None, column: int | None) -> int | None:
    """The 1-based character position of a 1-based (line, column), if it is in *text*."""
    starts = _line_starts(text)
    if not line or not column or line > len(starts):
        return None
    return min(starts[line - 1] + column, len(text))


def _keyless_entry(text: str) -> int | None:
    """The 1-based character position of an entry without a key in a ``{...}`` literal.

    ``{'access_token': 'x', 'Wed Nov 17 15:48:55 2021'}`` gives the position of the
    date. ``None`` when *text* is no dict literal or every entry has its key.
    """
    import io
    import tokenize

    starts = _line_starts(text)
    skipped = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    depth = 0
    entry: int | None = None  # where the current top-level entry starts
    has_colon = False
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in skipped or token.type == tokenize.ENDMARKER:
                continue
            position = starts[token.start[0] - 1] + token.start[1] + 1
            if depth == 0:
                if token.string != "{":
                    return None
                depth = 1
                continue
            if depth == 1 and token.string in (",", "}"):
                if entry is not None and not has_colon:
                    return entry
                if token.string == "}":
                    return None
                entry, has_colon = None, False
                continue
            if depth == 1 and token.string == ":":
                has_colon = True
            if entry is None:
                entry = position
            if token.string in ("(", "[", "{"):
                depth += 1
            elif token.string in (")", "]", "}"):
                depth -= 1
    except (tokenize.TokenError, SyntaxError):
        return None
    return None
