"""`parse_redirect`: what a person pasted (a redirected URL or a bare code) to a code.

It also recognises TickTick's redirect-mismatch error ("Invalid redirect: X does not
match one of the registered values: [Y]"), pasted as text, as the error page's
address or inside a URL's ``error_description``, and says which redirect URI to use
(`RedirectUriMismatch`; the parser is ``ticktick.endpoints.find_redirect_mismatch``,
shared with the token request).
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

from ..endpoints import find_redirect_mismatch, showable_redirect_uri
from ..errors import RedirectParseError, StateMismatch, oauth_error

__all__ = ["MAX_PASTE", "parse_redirect"]

_BARE_CODE = re.compile(r"[A-Za-z0-9._~-]{4,512}")

MAX_PASTE = 16 * 1024
"""The longest pasted text read, in characters (a redirected URL is far shorter)."""


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
        RedirectUriMismatch: The text is TickTick's "Invalid redirect: ... does not match
            one of the registered values: [...]": the message says which URI to use.
        RedirectParseError: The text holds neither a code nor an error, is a URL
            without the ``state`` that was sent, is the authorization page's own
            address, is a URL that cannot be read, or is longer than `MAX_PASTE`.
    """
    if len(text) > MAX_PASTE:
        raise RedirectParseError(
            f"That text is {len(text)} characters long, more than any redirect URL "
            f"({MAX_PASTE} at most). Paste only the address from the browser's address bar."
        )
    mismatch = find_redirect_mismatch(text)
    if mismatch is not None:
        raise mismatch
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

    authorize_page = "client_id" in fields or "response_type" in fields
    if "redirect_uri" in fields and authorize_page and not ("code" in fields or "error" in fields):
        sent = showable_redirect_uri(one("redirect_uri") or "")
        raise RedirectParseError(
            "That is the address of the authorization page itself, not of the redirect "
            "after Allow. If that page says 'Invalid redirect: ... does not match one of the "
            f"registered values: [...]', the redirect URI sent{f' ({sent})' if sent else ''} "
            "is not the one registered for the app: copy that line of the page and paste it "
            "here to see which one to use."
        )
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
