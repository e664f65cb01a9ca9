"""`parse_redirect`: what a person pasted (a redirected URL or a bare code) to a code.

It also recognises TickTick's redirect-mismatch error ("Invalid redirect: X does not
match one of the registered values: [Y]"), pasted as text, as the error page's
address or inside a URL's ``error_description``, and says which redirect URI to use
(`RedirectUriMismatch`, `redirect_uri_advice`).
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

from ..endpoints import check_redirect_uri
from ..errors import (
    ConfigurationError,
    RedirectParseError,
    RedirectUriMismatch,
    StateMismatch,
    oauth_error,
)

__all__ = ["MAX_PASTE", "find_redirect_mismatch", "parse_redirect", "redirect_uri_advice"]

_BARE_CODE = re.compile(r"[A-Za-z0-9._~-]{4,512}")

MAX_PASTE = 16 * 1024
"""The longest pasted text read, in characters (a redirected URL is far shorter)."""

MAX_URI = 2048
"""The longest redirect URI taken from a pasted mismatch error, in characters."""

MAX_REGISTERED = 10
"""At most this many registered redirect URIs are taken from a pasted mismatch error."""

# TickTick's words (its error page, and the token endpoint's error_description). The
# list may hold IPv6 URLs in brackets (one level). No part can match the same text in two
# ways, so a search takes time linear in the (bounded) text for each "Invalid redirect".
_MISMATCH = re.compile(
    r"invalid\s+redirect\s*:\s*(?P<sent>\S*)\s+does\s+not\s+match\s+one\s+of\s+the\s+"
    r"registered\s+values\s*:?\s*\[(?P<registered>(?:[^\[\]]|\[[^\[\]]*\])*)\]",
    re.IGNORECASE,
)


def _usable_uri(value: str) -> str | None:
    """*value* without blanks and quotes around it, if it is a redirect URI safe to show."""
    value = value.strip().strip("'\"").strip()
    if not value or len(value) > MAX_URI or not value.isascii() or not value.isprintable():
        return None
    if any(char in value for char in " \"'`<>\\"):
        return None
    try:
        check_redirect_uri(value)
        netloc = urlsplit(value).netloc
    except (ConfigurationError, ValueError):
        return None
    return None if "@" in netloc else value  # a user name or password would show


def find_redirect_mismatch(text: str) -> RedirectUriMismatch | None:
    """The `RedirectUriMismatch` that TickTick's "Invalid redirect" text in *text* says, if any.

    *text* may be the error page's text, TickTick's JSON answer, or a URL whose
    ``error_description`` carries it (HTML-escaped or percent-encoded). Only URIs that
    are printable ASCII ``http``/``https`` URLs, without a user name or password, are
    kept. *text* is a person's input: it is read only up to `MAX_PASTE` characters.
    """
    import html
    from urllib.parse import unquote_plus

    text = text[:MAX_PASTE]
    candidates = [text]
    unescaped = html.unescape(text) if "&" in text else text
    if unescaped != text:
        candidates.append(unescaped)
    if "%" in unescaped or "+" in unescaped:
        candidates.append(unquote_plus(unescaped))
    first: RedirectUriMismatch | None = None
    for candidate in candidates:
        match = _MISMATCH.search(candidate)
        if match is None:
            continue
        sent = _usable_uri(match["sent"]) or ""
        listed = [value for value in match["registered"].split(",") if value.strip()]
        registered: list[str] = []
        for value in listed[: MAX_REGISTERED * 4]:
            usable = _usable_uri(value)
            if usable is not None and usable not in registered:
                registered.append(usable)
        found = tuple(registered[:MAX_REGISTERED])
        mismatch = RedirectUriMismatch(
            redirect_uri_advice(sent, found, command_line=False), sent=sent, registered=found
        )
        if found:
            return mismatch
        first = first or mismatch
    return first


def redirect_uri_advice(sent: str, registered: tuple[str, ...], *, command_line: bool) -> str:
    """Say that *sent* is not registered, and which redirect URI to use instead.

    Args:
        sent: The redirect URI that was sent (``""`` if unknown).
        registered: The registered redirect URIs. Like *sent*, each is left out unless
            it is a printable ASCII ``http``/``https`` URL without quotes or a password.
        command_line: Name ``ticktick-auth``'s ``--redirect-uri`` rather than
            ``redirect_uri=``.
    """
    import shlex

    # Shown as given only if each is a URL safe to show (the text came from a paste).
    sent = sent if _usable_uri(sent) == sent else ""
    registered = tuple(uri for uri in registered if _usable_uri(uri) == uri)[:MAX_REGISTERED]

    def use(uri: str) -> str:
        return f"--redirect-uri {shlex.quote(uri)}" if command_line else f"redirect_uri={uri!r}"

    what = f"the redirect URI {sent}" if sent else "the redirect URI sent"
    head = f"TickTick refused {what}: it is not one registered for the app."
    register = (
        f"or register {sent} for the app at developer.ticktick.com/manage "
        "(developer.dida365.com/manage for Dida365)"
        if sent
        else "or register the one you use for the app at developer.ticktick.com/manage"
    )
    if not registered:
        return (
            f"{head} TickTick lists no registered redirect URI usable here (an http or https "
            f"URL). Register one for the app, such as http://127.0.0.1:8080/, and authorize "
            f"again with {use('http://127.0.0.1:8080/')}."
        )
    if len(registered) == 1:
        choice = f"Authorize again with {use(registered[0])}"
    else:
        choice = "Authorize again with one of: " + ", ".join(use(uri) for uri in registered)
    return f"{head} {choice} (exactly as registered: a trailing slash counts), {register}."


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
        sent = _usable_uri(one("redirect_uri") or "")
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
