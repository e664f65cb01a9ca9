"""The one redaction rule: how secrets are kept out of every message, log record and repr.

Every piece of text that may hold a secret (a client secret, an authorization code,
the Basic credential, a token, a URL's password) goes through this module before it
is shown, and every secret is shown as the one marker, `REDACTED`:

* `redact` removes every spelling of the given secrets from server text;
* `excerpt` makes a short, bounded, redacted excerpt of a server's answer;
* `without_userinfo` hides a URL's ``user:password@``.

It imports nothing until a function runs: `ticktick.errors`, on the fast path, imports it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["REDACTED", "excerpt", "redact", "spellings", "without_userinfo"]

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
times the secret: the part of a body redacted runs this far past `EXCERPT_SCAN`."""

DECODE_ROUNDS = 3
"""How many times `redact` undoes HTML escaping and percent-encoding (nested echoes)."""


def spellings(secret: str) -> set[str]:
    r"""Every way *secret* can be written by a server that echoes it.

    Each value is also taken base64-encoded (standard, URL-safe, with and without
    padding: the HTTP Basic credential is ``base64(id:secret)``), and each of those is
    taken percent-encoded, form-encoded (``+`` for a space) and JSON-escaped (with
    ``\/`` for ``/`` too, as some servers write it).
    """
    import base64
    import json
    from urllib.parse import quote, quote_plus

    raw = secret.encode("utf-8", errors="surrogatepass")
    encoded = {
        secret,
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
    }
    encoded |= {value.rstrip("=") for value in encoded}
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


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Return *text* with every spelling of every secret replaced by `REDACTED`.

    This is the one redaction rule: every piece of server text that goes into a
    message or a log record passes through it. Rather than list every escaping a
    server may apply, the text is brought to a canonical form: HTML character
    references and percent-escapes are decoded (up to `DECODE_ROUNDS` times, for
    nested escaping), and the secrets' `spellings` are matched before and after each
    round. The decoded text is what is returned. Matching ignores case
    (percent-encoding may use either case of hex digits); over-redacting is harmless.
    Time is linear in the length of *text*.
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
    for _ in range(DECODE_ROUNDS):
        if "%" not in text and "&" not in text:
            break
        decoded = _decode(text)
        if decoded == text:
            break
        text = pattern.sub(REDACTED, decoded)
    return text


def _decode(text: str) -> str:
    """*text* with HTML character references, then percent-escapes, decoded once."""
    import html
    from urllib.parse import unquote

    return unquote(html.unescape(text), errors="replace")


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
    import html
    import re

    secrets = tuple(secrets)
    margin = SPELLING_GROWTH * max((len(secret) for secret in secrets if secret), default=0)
    text = redact(body[: EXCERPT_SCAN + margin], secrets)
    if margin and len(body) > EXCERPT_SCAN + margin:
        text = text[:-margin]  # a spelling cut by the end is unredacted, and at most this long
    text = re.sub(r"(?is)<(script|style)\b.*?(?:</\1\s*>|\Z)", " ", text)
    text = re.sub(r"<[^<>]*>", " ", text)
    text = html.unescape(text)
    text = " ".join(text.split())
    text = redact(text, secrets)
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
