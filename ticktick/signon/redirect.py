"""`parse_redirect`: what a person pasted (a redirected URL or a bare code) to a code."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

from ..errors import (
    RedirectParseError,
    StateMismatch,
    oauth_error,
)

_BARE_CODE = re.compile(r"[A-Za-z0-9._~-]{4,512}")


def parse_redirect(text: str, expected_state: str | None) -> str:
    """Return the authorization code from a redirected URL or a bare code.

    Args:
        text: The full URL the browser was redirected to, its query string, or the code.
        expected_state: The ``state`` that was sent. A URL (or query string) must carry
            it back; only a bare code, with no URL around it, is taken without one.

    Raises:
        AccessDenied: The URL carries ``error=access_denied``.
        OAuthError: The URL carries another ``error``.
        StateMismatch: The URL's ``state`` differs from *expected_state*.
        RedirectParseError: The text holds neither a code nor an error, is a URL
            without the ``state`` that was sent, or is a URL that cannot be read.
    """
    text = text.strip().strip("'\"<>")
    if not text:
        raise RedirectParseError("Nothing was entered. Paste the URL you were redirected to.")
    if "=" not in text and "?" not in text and "://" not in text:
        if _BARE_CODE.fullmatch(text):
            return text
        raise RedirectParseError(
            "That is neither a URL nor a code. Paste the whole address from the browser's "
            "address bar after clicking Allow."
        )
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. "http://[127.0.0.1:8080/...": its text is not chained (the code)
        raise RedirectParseError(
            "That URL cannot be read: its host part is malformed (such as an unclosed '['). "
            "Paste the whole address from the browser's address bar after clicking Allow (or "
            "only the code after 'code=')."
        ) from None
    query = parts.query or (parts.path if "=" in parts.path and not parts.netloc else "")
    fields = parse_qs(query) | parse_qs(parts.fragment)

    def one(name: str) -> str | None:
        values = fields.get(name)
        return values[0] if values else None

    state = one("state")
    if expected_state is not None and state is None:
        raise RedirectParseError(
            "That URL has no 'state', but this authorization sent one, so the URL cannot be "
            "checked: it may be cut short, or forged. Paste the whole address from the "
            "browser's address bar after clicking Allow (or only the code after 'code=')."
        )
    if (
        state is not None
        and expected_state is not None
        and not secrets.compare_digest(state.encode(), expected_state.encode())
    ):
        raise StateMismatch(
            "The redirect's state does not match the one this authorization sent: it may "
            "be forged, or from an earlier attempt. Authorize again and paste the newest URL."
        )
    error = one("error")
    if error is not None:
        raise oauth_error(
            what="The authorization",
            status=None,
            error=error,
            error_description=one("error_description"),
            secrets=fields.get("code", []),
        )
    code = one("code")
    if not code:
        raise RedirectParseError(
            "That URL has no 'code' in it. Paste the address you reach after clicking Allow; "
            "it contains '?code='."
        )
    return code
