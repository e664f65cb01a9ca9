"""ticktick-oauth: get and keep an OAuth2 access token for the TickTick Open API.

>>> from ticktick import OAuth2
>>> oauth = OAuth2(client_id="...", client_secret="...",  # doctest: +SKIP
...                redirect_uri="http://127.0.0.1:8080/", env_key="ACCESS_TOKEN_DICT")
>>> oauth.get_access_token()  # doctest: +SKIP
'628ff081-5331-4a37-...'
"""

from .endpoints import DIDA365, TICKTICK, Endpoints
from .errors import (
    AccessDenied,
    AuthorizationTimeout,
    ConfigurationError,
    InvalidClient,
    InvalidGrant,
    OAuthError,
    ReauthorizationRequired,
    RedirectParseError,
    StateMismatch,
    TickTickError,
    TokenCacheError,
    TokenFormatError,
    TransportError,
)
from .oauth2 import OAuth2
from .session import requests_retry_session
from .signon import AuthorizationRequest, TerminalSignOn, parse_redirect
from .store import CacheHandler, TokenIdentity
from .token import TokenDict

__version__ = "0.1.0"

__all__ = [
    "DIDA365",
    "TICKTICK",
    "AccessDenied",
    "AuthorizationRequest",
    "AuthorizationTimeout",
    "CacheHandler",
    "ConfigurationError",
    "Endpoints",
    "InvalidClient",
    "InvalidGrant",
    "OAuth2",
    "OAuthError",
    "ReauthorizationRequired",
    "RedirectParseError",
    "StateMismatch",
    "TerminalSignOn",
    "TickTickError",
    "TokenCacheError",
    "TokenDict",
    "TokenFormatError",
    "TokenIdentity",
    "TransportError",
    "__version__",
    "parse_redirect",
    "requests_retry_session",
]
