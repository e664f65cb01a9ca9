"""Typed errors raised by ticktick-oauth.

Every failure of this package is a `TickTickError`. Each message says what
happened and what to do next, includes the HTTP status and TickTick's ``error`` /
``error_description`` when the server sent them, and never includes a client
secret, an authorization code or a token.

The tree::

    TickTickError
    ├── OAuthError                 the OAuth server answered with an error
    │   ├── InvalidGrant           code used, expired, or redirect URI mismatch
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
"""

from __future__ import annotations

# REDACTED was defined here and is documented with the errors: it stays importable.
from ._redaction import REDACTED as REDACTED
from ._redaction import redact

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Iterable

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
    "StateMismatch",
    "TickTickError",
    "TokenCacheError",
    "TokenExpiryWarning",
    "TokenFormatError",
    "TokenNotStoredWarning",
    "TransportError",
    "Unauthorized",
]


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


class StateMismatch(TickTickError):
    """The ``state`` in the redirect is not the one this client sent.

    The redirect may have been forged (cross-site request forgery) or belong to an
    older authorization attempt. Start the authorization again.
    """


class RedirectParseError(TickTickError, ValueError):
    """Text given as the redirected URL holds neither a code nor an error."""


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
        "from the one registered for the app (a trailing slash counts). Check redirect_uri "
        "and authorize again."
    ),
    InvalidClient: (
        "Check the client id and client secret, and that host= is the region the app is "
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
    message += ". " + _ADVICE[cls]
    return cls(message, status=status, error=error, error_description=error_description)
