"""Typed errors raised by ticktick-oauth.

Every failure of this package is a `TickTickError`. Each message says what
happened and what to do next, includes the HTTP status and TickTick's ``error`` /
``error_description`` when the server sent them, and never includes a client
secret, an authorization code or a token.

The tree::

    TickTickError
    ├── OAuthError                 the OAuth server answered with an error
    │   ├── InvalidGrant           code used, expired, or redirect URI mismatch
    │   │   └── RedirectUriMismatch  TickTick refused the redirect URI sent (token
    │   │                            request or pasted; also a RedirectParseError)
    │   ├── InvalidClient          wrong client id or secret, or wrong region
    │   └── AccessDenied           the person clicked "Deny"
    ├── StateMismatch              the redirect's ``state`` is not the one sent (CSRF)
    ├── RedirectParseError         a pasted redirect URL or code could not be read
    ├── TokenFormatError           a token dict (variable, file, response) is malformed
    ├── ReauthorizationRequired    a person must authorize again, and cannot here
    ├── AuthorizationTimeout       the person did not finish authorizing in time
    ├── LoopbackPortInUse          the redirect URI's loopback port is taken
    ├── TokenCacheError            the token file cannot be read, locked or written
    ├── TransportError             the server could not be reached or did not answer
    ├── ConfigurationError         an argument cannot work (unknown host, bad URL)
    └── ApiError                   the Open API answered with an error
        ├── Unauthorized           401: the token was refused, even after re-resolving
        ├── Forbidden              403: the token may not do this
        ├── NotFound               404: no such project or task
        └── RateLimited            429 or ``exceed_query_limit``: slow down

    TokenExpiryWarning             (a warning) the token expires within a few days
    TokenNotStoredWarning          (a warning) a new token is kept in memory only: storing it failed

The one redaction rule lives here too, beside the messages it protects: every piece
of text that may hold a secret (a client secret, an authorization code, the Basic
credential, a token, a URL's password) goes through it before it is shown, and every
secret is shown as the one marker, `REDACTED`. `redact` removes every spelling of the
given secrets from server text; `excerpt` makes a short, bounded, redacted excerpt of a
server's answer; `without_userinfo` hides a URL's ``user:password@``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable

__all__ = [
    "AccessDenied",
    "ApiError",
    "AuthorizationTimeout",
    "ConfigurationError",
    "Forbidden",
    "InvalidClient",
    "InvalidGrant",
    "LoopbackPortInUse",
    "NotFound",
    "OAuthError",
    "RateLimited",
    "ReauthorizationRequired",
    "RedirectParseError",
    "RedirectUriMismatch",
    "RevocationFailed",
    "StateMismatch",
    "TickTickError",
    "TokenCacheError",
    "TokenExpiryWarning",
    "TokenFormatError",
    "TokenNotStoredWarning",
    "TransportError",
    "Unauthorized",
]


# -- naming an argument: the library's words or ticktick-auth's flags --------------------

_FLAGS: dict[str, str] | None = None
"""While ``ticktick-auth`` runs, its flag for each argument (`speak_in_flags`)."""


def argument(name: str, *value: object, bare: bool = False) -> str:
    """How a message names the argument *name* (given *value*, if one is passed).

    The one mechanism by which the library speaks in arguments and ``ticktick-auth``
    in flags: the library's messages say ``host=`` and ``host='dida365.com'``
    (*bare*: ``redirect_uri``, as the subject of a sentence); while the command runs
    (`speak_in_flags`) the same messages say ``--host`` and ``--host dida365.com``.
    An argument the command has no flag for stays as it is.

    Example:
        >>> f"Check {argument('host')}."
        'Check host=.'
    """
    flags = _FLAGS
    flag = None if flags is None else flags.get(name)
    if flags is None or flag is None:
        return f"{name}={value[0]!r}" if value else name if bare else f"{name}="
    if not value:
        return flag
    special = flags.get(f"{name}={value[0]!r}")  # e.g. cache_path=None: --no-cache
    if special is not None:
        return special
    import shlex

    return f"{flag} {shlex.quote(str(value[0]))}"


def speak_in_flags(flags: dict[str, str] | None) -> dict[str, str] | None:
    """Make `argument` name each argument by the flag *flags* gives it; return the old table.

    *flags* maps an argument to its flag (``{"host": "--host"}``), and an argument with
    a value to a flag of its own (``{"cache_path=None": "--no-cache"}``); ``None`` goes
    back to the library's arguments. Set by ``ticktick-auth`` for its whole run.
    """
    global _FLAGS
    previous, _FLAGS = _FLAGS, flags
    return previous


class TickTickError(Exception):
    """Base class of every error raised by this package."""


class OAuthError(TickTickError):
    """The OAuth server answered with an error.

    Attributes:
        status: The HTTP status, or ``None`` when the error came in a redirect.
        error: TickTick's ``error`` code (``invalid_grant``, ...), if any.
        error_description: TickTick's ``error_description``, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.error_description = error_description


class InvalidGrant(OAuthError):
    """The code was already used or expired, or the redirect URI does not match."""


class InvalidClient(OAuthError):
    """The client id or secret is wrong, or the app is registered in the other region."""


class AccessDenied(OAuthError):
    """The person refused access on TickTick's consent page."""


class RevocationFailed(OAuthError):
    """The server did not confirm that it revoked the token (RFC 7009): it may still work.

    Attributes:
        token_removed: Whether the token was removed here all the same. ``False``
            (what `OAuth2.revoke` and ``ticktick-auth logout --revoke`` do): it is
            kept, so that the revocation can be tried again.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        error_description: str | None = None,
        token_removed: bool = False,
    ) -> None:
        super().__init__(message, status=status, error=error, error_description=error_description)
        self.token_removed = token_removed


class StateMismatch(TickTickError):
    """The ``state`` in the redirect is not the one this client sent.

    The redirect may have been forged (cross-site request forgery) or belong to an
    older authorization attempt. Start the authorization again.
    """


class RedirectParseError(TickTickError, ValueError):
    """Text given as the redirected URL holds neither a code nor an error."""


class RedirectUriMismatch(InvalidGrant, RedirectParseError):
    """TickTick refused the redirect URI sent: it is not one registered for the app.

    Raised for TickTick's "Invalid redirect: X does not match one of the registered
    values: [Y]": the token endpoint's ``invalid_grant`` answer (with its ``status``,
    ``error`` and ``error_description``), or the same text pasted from the error page.
    The message names the registered URI to use (``redirect_uri='Y'``; ``--redirect-uri
    Y`` in ``ticktick-auth``). No code can come of this authorization: authorize again
    with a registered redirect URI.

    Attributes:
        sent: The redirect URI TickTick says was sent (``""`` if not a usable URL).
        registered: The registered redirect URIs TickTick listed, in order; only
            ``http``/``https`` URLs of printable ASCII are kept.
    """

    def __init__(
        self,
        message: str,
        *,
        sent: str,
        registered: tuple[str, ...],
        status: int | None = None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> None:
        super().__init__(message, status=status, error=error, error_description=error_description)
        self.sent = sent
        self.registered = registered


class TokenFormatError(TickTickError, ValueError):
    """A token dict is malformed: not a dict, no ``access_token``, bad ``expire_time``."""


class ReauthorizationRequired(TickTickError):
    """No usable token is available and a person cannot be asked for one here.

    Raised instead of prompting when the process has no terminal (cron, CI, a
    service) or ``interactive=False`` was given.
    """


class AuthorizationTimeout(TickTickError, TimeoutError):
    """The person did not finish authorizing within the allowed time."""


class LoopbackPortInUse(TickTickError):
    """The loopback port of the redirect URI is taken, so the redirect cannot be captured."""


class TokenCacheError(TickTickError):
    """The token cache cannot be read, locked or written."""


class TransportError(TickTickError):
    """The server could not be reached, or did not answer in time."""


class ConfigurationError(TickTickError, ValueError):
    """An argument cannot work, such as an unknown host or a plain-HTTP remote URL."""


class ExtraNotInstalled(ConfigurationError, ImportError):
    """An optional extra is not installed, e.g. ``pip install 'ticktick-oauth[httpx]'``.

    Raised on importing ``ticktick.aio`` without ``httpx``; also an ``ImportError``.
    """


class NameNeedsExtra(ConfigurationError, AttributeError):
    """``ticktick.AsyncOpenAPI`` (a name of an extra that is not installed) was asked for.

    Also an ``AttributeError``, so that ``hasattr(ticktick, "AsyncOpenAPI")`` is false.
    """


class ApiError(TickTickError):
    """The Open API answered with an error.

    Attributes:
        status: The HTTP status.
        body_excerpt: A short, safe excerpt of the answer's body.
    """

    def __init__(self, message: str, *, status: int, body_excerpt: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body_excerpt = body_excerpt


class Unauthorized(ApiError):
    """TickTick refused the access token (401), even after resolving a token again."""


class Forbidden(ApiError):
    """The token may not do this (403): another person's project, or a missing scope."""


class NotFound(ApiError):
    """No such project or task (404), or it belongs to another account."""


class RateLimited(ApiError):
    """Too many requests (429, or TickTick's ``exceed_query_limit`` answer).

    Attributes:
        retry_after: Seconds the server asked to wait, when it said.
    """

    def __init__(
        self, message: str, *, status: int, body_excerpt: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, body_excerpt=body_excerpt)
        self.retry_after = retry_after


class TokenExpiryWarning(UserWarning):
    """The token expires soon; a person should authorize again before it does."""


class TokenNotStoredWarning(UserWarning):
    """A new token could not be stored; this process keeps it in memory only."""


_ERROR_CLASSES: dict[str, type[OAuthError]] = {
    "invalid_grant": InvalidGrant,
    "invalid_client": InvalidClient,
    "unauthorized_client": InvalidClient,
    "access_denied": AccessDenied,
}

_ADVICE: dict[type[OAuthError], str] = {
    InvalidGrant: (
        "The authorization code was already used, has expired, or the redirect URI differs "
        "from the one registered for the app (a trailing slash counts). Check {redirect_uri} "
        "and authorize again."
    ),
    InvalidClient: (
        "Check the client id and client secret, and that {host} is the region the app is "
        "registered in (ticktick.com or dida365.com)."
    ),
    AccessDenied: "Access was refused on the consent page. Authorize again and click Allow.",
    OAuthError: "Authorize again; if it keeps failing, check the app's settings.",
}


def oauth_error(
    *,
    what: str,
    status: int | None,
    error: str | None,
    error_description: str | None,
    body_excerpt: str | None = None,
    secrets: Iterable[str | None] = (),
) -> OAuthError:
    """Build the typed error for an OAuth error answer.

    Args:
        what: What was being done, e.g. ``"The token request to https://ticktick.com/oauth/token"``.
        status: The HTTP status, or ``None`` for an error carried in a redirect.
        error: The ``error`` field, if any.
        error_description: The ``error_description`` field, if any.
        body_excerpt: A safe excerpt of a non-JSON body, if that is all there is.
        secrets: Values that must not appear in the message or the error's fields in any
            spelling (code, client secret, ``client_id:client_secret``, tokens).
    """
    secrets = tuple(secrets)
    # Every field built from server text goes through the one redaction rule, whatever
    # else the answer holds (an empty or missing ``error`` included): a field that is not
    # a string is dropped, never kept raw.
    cls = _ERROR_CLASSES.get(error if isinstance(error, str) else "", OAuthError)
    if cls is OAuthError and status == 401:
        cls = InvalidClient
    error = redact(error, secrets) if isinstance(error, str) and error else None
    error_description = (
        redact(error_description, secrets)
        if isinstance(error_description, str) and error_description
        else None
    )
    parts = [what, "failed"]
    if status is not None:
        parts.append(f"with HTTP {status}")
    message = " ".join(parts)
    if error:
        message += f": {error}" + (f" ({error_description})" if error_description else "")
    elif body_excerpt:
        message += f": {redact(body_excerpt, secrets)!r}"
    elif error_description:
        message += f": {error_description!r}"
    message += ". " + _ADVICE[cls].format(
        host=argument("host"), redirect_uri=argument("redirect_uri", bare=True)
    )
    return cls(message, status=status, error=error, error_description=error_description)


# -- the one redaction rule ----------------------------------------------------------

REDACTED = "<redacted>"
"""What every secret (code, client secret, Basic credential, token, URL password) is
replaced by, everywhere."""

MIN_SECRET = 4
"""Values shorter than this are not secrets worth hunting (and would match everywhere)."""

EXCERPT_LIMIT = 200
"""The longest excerpt, in characters."""

EXCERPT_SCAN = 32 * 1024
"""How much of a body, in characters, an excerpt is taken from: the work is bounded."""

SPELLING_GROWTH = 64
"""No spelling of a secret (encoded, escaped, as HTML entities) is longer than this many
times the secret: the part of a body redacted runs this far past `EXCERPT_SCAN`. The
longest is a form-encoded astral character (12 characters: ``%F0%9F%98%80``) taken as
hex (24), or base64-encoded (16) and then percent-encoded (up to 48)."""

DECODE_ROUNDS = 3
r"""How many times `redact` undoes HTML escaping, percent-encoding and JSON's ``\uXXXX``
escapes (nested echoes)."""


def spellings(secret: str) -> set[str]:
    r"""Every way *secret* can be written by a server that echoes it.

    The secret is taken as is and form-encoded (as a form body carries it); each of
    those is also taken as hex (lower and upper case) and base64-encoded (standard,
    URL-safe, with and without padding: the HTTP Basic credential is
    ``base64(id:secret)``). A secret inside a longer base64 blob (a server echoing a
    whole request encoded) is found too: for each of the three alignments, the part of
    the blob that depends on the secret alone (see `_base64_cores`). Each of these is
    then taken percent-encoded, form-encoded and JSON-escaped (with ``\/`` for ``/``
    too, as some servers write it).
    """
    import base64
    import binascii
    import json
    from urllib.parse import quote, quote_plus

    bases = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    encoded: set[str] = set()
    for value in bases:
        raw = value.encode("utf-8", errors="surrogatepass")
        hexed = binascii.hexlify(raw).decode("ascii")
        encoded |= {value, hexed, hexed.upper()}
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            whole = encode(raw).decode("ascii")
            encoded |= {whole, whole.rstrip("=")} | _base64_cores(raw, encode)
    forms: set[str] = set()
    for value in encoded:
        escaped = json.dumps(value)[1:-1]
        forms |= {
            value,
            quote(value, safe=""),
            quote_plus(value, safe=""),
            escaped,
            escaped.replace("/", "\\/"),
        }
    return {form for form in forms if len(form) >= MIN_SECRET}


def _base64_cores(raw: bytes, encode: Callable[[bytes], bytes]) -> set[str]:
    """The characters of a base64 stream that *raw* alone decides, at each alignment.

    In ``base64(prefix + raw + suffix)`` the bytes of *raw* start at an offset of 0, 1
    or 2 within a 3-byte group. For each, the characters of ``base64(b"x" * offset +
    raw)`` that hold bits of *raw* only are kept: the leading ones that mix in the
    prefix (none, 2 or 3 characters) and the last one that would mix in the suffix are
    dropped. Whatever surrounds the secret, one of the three is in the stream.
    """
    cores: set[str] = set()
    for offset in range(3):
        stream = encode(b"x" * offset + raw).decode("ascii")
        bits = 8 * (offset + len(raw))
        cores.add(stream[-(-8 * offset // 6) : bits // 6])
    return cores


def redact(text: str, secrets: Iterable[str | None]) -> str:
    r"""Return *text* with every spelling of every secret replaced by `REDACTED`.

    This is the one redaction rule: every piece of server text that goes into a
    message or a log record passes through it. Rather than list every escaping a
    server may apply, the text is brought to a canonical form: HTML character
    references, percent-escapes and JSON's ``\uXXXX`` and ``\/`` escapes are decoded
    (up to `DECODE_ROUNDS` times, for nested escaping), and the secrets' `spellings`
    are matched before and after each round. The text is returned as it came, with
    the secrets' plain spellings replaced, unless decoding revealed a secret: then the
    decoded text is returned, with every secret replaced.
    Matching ignores case (percent-encoding and hex may use either case of hex digits);
    over-redacting is harmless. Time is linear in the length of *text*.
    """
    import re

    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            forms |= spellings(secret)
    if not forms:
        return text
    pattern = re.compile(
        "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)), re.IGNORECASE
    )
    text = pattern.sub(REDACTED, text)
    current = text
    for _ in range(DECODE_ROUNDS):
        if "%" not in current and "&" not in current and "\\" not in current:
            break
        decoded = _decode(current)
        if decoded == current:
            break
        current = pattern.sub(REDACTED, decoded)
        if current != decoded:  # escaping hid a secret: show the decoded text, redacted
            text = current
    return text


def _decode(text: str) -> str:
    r"""*text* with HTML character references, percent-escapes, then JSON escapes decoded once.

    Of JSON's escapes only ``\uXXXX`` (a surrogate pair as one character, a lone
    surrogate as U+FFFD) and ``\/`` are undone: the others do not hide a secret's text.
    """
    import html
    import re
    from urllib.parse import unquote

    text = unquote(html.unescape(text), errors="replace")
    if "\\" not in text:
        return text
    return re.sub(
        r"(?i)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u([0-9a-f]{4})|\\/",
        _unescape_json,
        text,
    )


def _unescape_json(match: re.Match[str]) -> str:
    r"""The character one JSON escape (``\uXXXX``, a surrogate pair, ``\/``) stands for."""
    high, low, single = match.groups()
    if high is not None:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
    if single is None:
        return "/"
    code = int(single, 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
"""Characters a page shows as nothing (soft hyphen, zero-width ones): they may split a secret."""

_MARK = "\ue000"
"""`REDACTED` while an excerpt's markup is taken out (a private-use character)."""


def _plain(text: str) -> str:
    """*text* with character references decoded and white space collapsed to single spaces."""
    import html

    return " ".join(html.unescape(text).replace(REDACTED, _MARK).split())


def excerpt(body: str, secrets: Iterable[str | None] = ()) -> str:
    """Return a short, single-line, tag-free excerpt of a response body, with secrets removed.

    Only about the first `EXCERPT_SCAN` characters are used, and every step is
    linear, so the time taken is bounded whatever the body (a server's answer may be
    megabytes of unclosed tags). The prefix is redacted with a margin as long as the
    longest spelling of a secret, and the margin is then dropped, so a secret cut by
    the prefix's end never shows in part.
    Secrets are removed before and after the markup is taken out, so that neither an
    HTML-escaped nor a plain echo survives. An unclosed ``<script`` or ``<style``
    hides the rest, as in a browser.
    """
    import re

    secrets = tuple(secrets)
    margin = SPELLING_GROWTH * max((len(secret) for secret in secrets if secret), default=0)
    text = redact(body[: EXCERPT_SCAN + margin], secrets)
    if margin and len(body) > EXCERPT_SCAN + margin:
        text = text[:-margin]  # a spelling cut by the end is unredacted, and at most this long
    text = text.replace(REDACTED, _MARK)  # the marker is not markup: keep it
    text = re.sub(r"(?is)<(script|style)\b.*?(?:</\1\s*>|\Z)", " ", text)
    # Tags become spaces, as a browser lays out blocks; but a secret split by markup
    # that shows nothing (<wbr>, <span></span>, a comment, a soft hyphen or a
    # zero-width character) is joined again, as a reader would read it, and then hidden.
    spaced = _plain(re.sub(r"<[^<>]*>", " ", text))
    joined = _plain(re.sub(r"<[^<>]*>", "", text)).translate(_INVISIBLE)
    hidden = redact(joined, secrets)
    text = hidden if hidden != joined else redact(spaced, secrets)
    text = text.replace(_MARK, REDACTED)
    if len(text) > EXCERPT_LIMIT:
        text = text[: EXCERPT_LIMIT - 1] + "…"
    return text


def without_userinfo(text: str) -> str:
    """*text* with any ``user:password@`` of a URL replaced by ``<redacted>@``, for messages.

    *text* need not be a readable URL: only the part between ``://`` and the first
    ``/``, ``?`` or ``#`` is looked at, and everything up to its last ``@`` is hidden.
    """
    start = text.find("://")
    if start < 0:
        return text
    start += 3
    end = next((i for i in range(start, len(text)) if text[i] in "/?#"), len(text))
    at = text.rfind("@", start, end)
    return text if at < 0 else f"{text[:start]}{REDACTED}{text[at:]}"
