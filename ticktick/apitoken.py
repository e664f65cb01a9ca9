"""Personal API tokens: a token a person creates in TickTick, with no app and no browser.

A person creates one under Settings > Account > API Token on ticktick.com (or
dida365.com); the values seen start with ``tp_``. It is sent as ``Authorization:
Bearer ...`` to the same Open API as an OAuth token. Its lifetime is not published
(observed, not documented): it is used until TickTick refuses it.

`ApiToken` follows [`TokenProvider`][ticktick.provider.TokenProvider], so
[`OpenAPI`][ticktick.api.OpenAPI] and [`TickTickAuth`][ticktick.auth.TickTickAuth]
take it where they take an `OAuth2` client::

    api = OpenAPI(ApiToken.from_env())   # TICKTICK_API_TOKEN, e.g. in CI
    api.list_projects()

A refused token (HTTP 401) is never renewed: there is no sign-on behind it. The
request fails with [`Unauthorized`][ticktick.errors.Unauthorized], saying that the
token was revoked or mistyped and where to create a new one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._defaults import DEFAULT_TIMEOUT, Timeout, check_timeout, logger
from .endpoints import Endpoints, resolve_host
from .errors import REDACTED, ConfigurationError, TokenFormatError
from .stores import DEFAULT_CACHE_PATH, FileStore, TokenIdentity, TokenStore
from .stores.base import bind_identity
from .token import API_TOKEN_KIND, TokenDict, bearer_problem

if TYPE_CHECKING:
    import requests

__all__ = ["API_TOKEN_ENV", "ApiToken", "api_token_dict", "where_to_create"]

API_TOKEN_ENV = "TICKTICK_API_TOKEN"  # noqa: S105 # nosec B105 - a variable's name
"""The environment variable `ApiToken.from_env` reads."""

MAX_API_TOKEN = 4096
"""The longest personal API token accepted, in characters (those seen have about 70)."""


def where_to_create(host: str) -> str:
    """Where a person creates a personal API token for *host*, as a sentence's part."""
    return f"under Settings > Account > API Token on {host}"


def check_api_token(token: object, source: str) -> str:
    """Return *token* if it can be a personal API token, else raise `TokenFormatError`.

    The rule is every token's (``ticktick.token.bearer_problem``): visible ASCII, no
    whitespace. The message names *source*, never the value.
    """
    advice = (
        "Copy the token again from Settings > Account > API Token: only the token "
        "(it starts with tp_), without 'Bearer ' or quotes."
    )
    if not isinstance(token, str):
        raise TokenFormatError(f"{source} is a {type(token).__name__}, not a string. {advice}")
    if not token:
        raise TokenFormatError(f"{source} is empty. {advice}")
    if len(token) > MAX_API_TOKEN:
        raise TokenFormatError(
            f"{source} is {len(token)} characters long, more than the {MAX_API_TOKEN} a "
            f"personal API token can need. {advice}"
        )
    problem = bearer_problem(token)
    if problem is not None:
        raise TokenFormatError(f"{source} is not a bearer token ({problem}). {advice}")
    return token


def api_token_dict(token: str, *, checked_at: float | None = None) -> TokenDict:
    """The stored form of a personal API token: a token dict of kind ``api_token``.

    It has no ``expire_time`` (its expiry is unknown, so no reader takes it for an
    expired OAuth token) and records when TickTick last accepted it (``checked_at``,
    Unix seconds), when known.
    """
    info = TokenDict(access_token=token, token_type="bearer", kind=API_TOKEN_KIND)  # noqa: S106 # nosec B106
    if checked_at is not None:
        info["checked_at"] = int(checked_at)
    return info


class ApiToken:
    """A personal API token, for `OpenAPI` and `TickTickAuth` (a `TokenProvider`).

    Args:
        token: The token, as TickTick shows it (``tp_...``).
        host: ``"ticktick.com"`` (default), ``"dida365.com"``, or a compatible server's
            base URL: the region the token was created in.
        timeout: Timeout of each HTTP request, in seconds or ``(connect, read)``.
        session: A ``requests`` session; a retrying one by default, made on first use.

    Raises:
        TokenFormatError: *token* is not a bearer token (whitespace, non-ASCII, empty).
        ConfigurationError: *host* or *timeout* cannot work.

    Examples:
        >>> api = OpenAPI(ApiToken("tp_...", host="ticktick.com"))  # doctest: +SKIP
    """

    def __init__(
        self,
        token: str,
        *,
        host: str | Endpoints = "ticktick.com",
        timeout: Timeout = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._token = check_api_token(token, "The personal API token given to ApiToken")
        self.endpoints = resolve_host(host)
        self.timeout = check_timeout(timeout)
        self._session = session
        self._source = "the personal API token given to ApiToken"
        self.refused = False
        """Whether TickTick refused the token (HTTP 401); it is not sent as valid again."""

    @classmethod
    def from_env(
        cls,
        name: str = API_TOKEN_ENV,
        *,
        host: str | Endpoints | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> ApiToken:
        """The token in the environment variable *name* (``TICKTICK_API_TOKEN``).

        Blanks around the value (a trailing line break of a CI secret) are dropped.
        *host* defaults to ``TICKTICK_HOST`` when it is set (as for ``ticktick-auth``),
        else ``"ticktick.com"``.

        Raises:
            ConfigurationError: The variable is unset or empty, or ``TICKTICK_HOST``
                is not a usable host.
            TokenFormatError: Its value is not a bearer token (never quoted).
        """
        if host is None:
            host = os.environ.get("TICKTICK_HOST") or "ticktick.com"
            try:
                host = resolve_host(host)
            except ConfigurationError as exc:
                raise ConfigurationError(
                    f"The environment variable TICKTICK_HOST (the default of host=) is not "
                    f"usable: {exc}"
                ) from None
        value = os.environ.get(name, "").strip()
        if not value:
            raise ConfigurationError(
                f"The environment variable {name} is not set (or empty). Create a personal "
                f"API token {where_to_create(resolve_host(host).host)}, and set {name} to it "
                "(in CI, as a masked secret)."
            )
        checked = check_api_token(value, f"The environment variable {name}")
        provider = cls(checked, host=host, timeout=timeout, session=session)
        provider._source = f"the personal API token in {name}"
        return provider

    @classmethod
    def from_store(
        cls,
        store: TokenStore | None = None,
        *,
        host: str | Endpoints = "ticktick.com",
        timeout: Timeout = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> ApiToken:
        """The token that ``ticktick-auth login --api-token`` kept in *store*.

        *store* is the cache file ``.token-oauth`` by default. A store made without an
        identity is bound to this host's personal API token; an OAuth token there is
        not used.

        Raises:
            ConfigurationError: The store holds no personal API token for *host*, or
                is bound to an app's identity.
            TokenCacheError: The store cannot be read.
        """
        endpoints = resolve_host(host)
        if store is None:
            store = FileStore(DEFAULT_CACHE_PATH)
        bind_identity(store, TokenIdentity.api_token(endpoints.host))
        info = store.read()
        if info is None:
            raise ConfigurationError(
                f"No personal API token for {endpoints.host} in {store.describe()}. Run "
                f"'ticktick-auth login --api-token --host {endpoints.host}' (it reads the "
                "token without echo, or from standard input), or pass the token to ApiToken."
            )
        source = f"The personal API token in {store.describe()}"
        provider = cls(
            check_api_token(info["access_token"], source),
            host=endpoints,
            timeout=timeout,
            session=session,
        )
        provider._source = f"the personal API token in {store.describe()}"
        return provider

    # -- TokenProvider ----------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The retrying ``requests`` session, made on first use."""
        if self._session is None:
            from ._http.session import requests_retry_session

            self._session = requests_retry_session(timeout=self.timeout)
        return self._session

    @property
    def token_source(self) -> str:
        """Where the token came from, for messages (never the token itself)."""
        return self._source

    def get_access_token(self) -> str:
        """The token; never blocks, never signs on (also once refused: nothing can renew it)."""
        return self._token

    def token_in_memory(self) -> str | None:
        """The token, or ``None`` once TickTick has refused it; never blocks."""
        return None if self.refused else self._token

    def discard_token(self, access_token: str) -> None:
        """Mark the token refused (TickTick answered 401); nothing starts a sign-on."""
        if access_token == self._token and not self.refused:
            self.refused = True
            logger().info(
                "TickTick refused %s (HTTP 401): it was revoked or mistyped. Create a new one %s.",
                self._source,
                where_to_create(self.endpoints.host),
            )

    def renewal_advice(self) -> str:
        """Where to create a new token and how to give it, as a sentence's end."""
        return (
            f"check that {self._source} was copied whole, or create a new one "
            f"{where_to_create(self.endpoints.host)} and give it to ApiToken (or set "
            f"{API_TOKEN_ENV}, or run 'ticktick-auth login --api-token')"
        )

    def __repr__(self) -> str:
        state = ", refused" if self.refused else ""
        return f"ApiToken(host={self.endpoints.host!r}, token={REDACTED}{state})"
