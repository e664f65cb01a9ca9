"""ticktick-oauth: get and keep an OAuth2 access token for the TickTick Open API.

>>> from ticktick import OAuth2
>>> oauth = OAuth2(client_id="...", client_secret="...",  # doctest: +SKIP
...                redirect_uri="http://127.0.0.1:8080/", env_key="ACCESS_TOKEN_DICT")
>>> oauth.get_access_token()  # doctest: +SKIP
'628ff081-5331-4a37-...'

Names are imported on first use, so ``import ticktick`` (and ``ticktick-auth token``)
stays fast and does not load ``requests`` until something needs it.
"""

from __future__ import annotations

from ._defaults import __version__, lazy_names

TYPE_CHECKING = False  # the fast path: docs/architecture.md

_WHERE = {
    "DIDA365": "endpoints",
    "TICKTICK": "endpoints",
    "Endpoints": "endpoints",
    "AccessDenied": "errors",
    "ApiError": "errors",
    "AuthorizationTimeout": "errors",
    "ConfigurationError": "errors",
    "ExtraNotInstalled": "errors",
    "NameNeedsExtra": "errors",
    "Forbidden": "errors",
    "InvalidClient": "errors",
    "InvalidGrant": "errors",
    "LoopbackPortInUse": "errors",
    "NotFound": "errors",
    "OAuthError": "errors",
    "RateLimited": "errors",
    "ReauthorizationRequired": "errors",
    "RedirectParseError": "errors",
    "RedirectUriMismatch": "errors",
    "RevocationFailed": "errors",
    "StateMismatch": "errors",
    "TickTickError": "errors",
    "TokenCacheError": "errors",
    "TokenExpiryWarning": "errors",
    "TokenNotStoredWarning": "errors",
    "TokenFormatError": "errors",
    "TransportError": "errors",
    "Unauthorized": "errors",
    "OpenAPI": "api",
    "ApiToken": "apitoken",
    "AsyncOpenAPI": "aio",
    "HttpxAuth": "aio",
    "TickTickAuth": "auth",
    "TokenProvider": "provider",
    "Profile": "profiles",
    "ProfilesFile": "profiles",
    "OAuth2": "oauth2",
    "ServerMetadata": "metadata",
    "Revocation": "revocation",
    "requests_retry_session": "_http.session",
    "AuthorizationRequest": "signon",
    "SignOn": "signon",
    "parse_redirect": "signon",
    "CacheHandler": "stores",
    "EnvSource": "stores",
    "FileStore": "stores",
    "MemoryStore": "stores",
    "TokenStore": "stores",
    "TokenIdentity": "stores",
    "TokenDict": "token",
}

__all__ = [
    "DIDA365",
    "TICKTICK",
    "AccessDenied",
    "ApiError",
    "ApiToken",
    "AuthorizationRequest",
    "AuthorizationTimeout",
    "CacheHandler",
    "ConfigurationError",
    "Endpoints",
    "EnvSource",
    "ExtraNotInstalled",
    "FileStore",
    "Forbidden",
    "InvalidClient",
    "InvalidGrant",
    "LoopbackPortInUse",
    "MemoryStore",
    "NameNeedsExtra",
    "NotFound",
    "OAuth2",
    "OAuthError",
    "OpenAPI",
    "Profile",
    "ProfilesFile",
    "RateLimited",
    "ReauthorizationRequired",
    "RedirectParseError",
    "RedirectUriMismatch",
    "Revocation",
    "RevocationFailed",
    "ServerMetadata",
    "SignOn",
    "StateMismatch",
    "TickTickAuth",
    "TickTickError",
    "TokenCacheError",
    "TokenDict",
    "TokenExpiryWarning",
    "TokenFormatError",
    "TokenIdentity",
    "TokenNotStoredWarning",
    "TokenProvider",
    "TokenStore",
    "TransportError",
    "Unauthorized",
    "__version__",
    "parse_redirect",
    "requests_retry_session",
]


_EXTRAS = {"AsyncOpenAPI": "httpx", "HttpxAuth": "httpx"}
"""Names of an optional extra: ``ticktick.AsyncOpenAPI`` works (it is
``ticktick.aio.AsyncOpenAPI``), but they are not in ``__all__`` or ``dir()``, so that
``from ticktick import *``, ``help(ticktick)`` and ``inspect.getmembers(ticktick)``
work without the extra, and never import it. Without it, asking for one raises
`NameNeedsExtra`: an ``AttributeError`` (``hasattr`` is false) that says what to install."""

__getattr__ = lazy_names(__name__, _WHERE)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from ._http.session import requests_retry_session
    from .aio import AsyncOpenAPI as AsyncOpenAPI  # re-exported, not in __all__: _EXTRAS
    from .aio import HttpxAuth as HttpxAuth
    from .api import OpenAPI
    from .apitoken import ApiToken
    from .auth import TickTickAuth
    from .endpoints import DIDA365, TICKTICK, Endpoints
    from .errors import (
        AccessDenied,
        ApiError,
        AuthorizationTimeout,
        ConfigurationError,
        ExtraNotInstalled,
        Forbidden,
        InvalidClient,
        InvalidGrant,
        LoopbackPortInUse,
        NameNeedsExtra,
        NotFound,
        OAuthError,
        RateLimited,
        ReauthorizationRequired,
        RedirectParseError,
        RedirectUriMismatch,
        RevocationFailed,
        StateMismatch,
        TickTickError,
        TokenCacheError,
        TokenExpiryWarning,
        TokenFormatError,
        TokenNotStoredWarning,
        TransportError,
        Unauthorized,
    )
    from .metadata import ServerMetadata
    from .oauth2 import OAuth2
    from .profiles import Profile, ProfilesFile
    from .provider import TokenProvider
    from .revocation import Revocation
    from .signon import AuthorizationRequest, SignOn, parse_redirect
    from .stores import (
        CacheHandler,
        EnvSource,
        FileStore,
        MemoryStore,
        TokenIdentity,
        TokenStore,
    )
    from .token import TokenDict
