"""The OAuth2 token client.

`OAuth2` keeps ticktick-py's constructor and public surface, so code written
for ticktick-py's ``OAuth2`` keeps working, and resolves a token from, in order:

1. **memory**: the token this instance already holds, while it is valid;
2. **the environment**: the variable named by ``env_key`` (``ACCESS_TOKEN_DICT`` in
   CI), holding the token dict as JSON or as a Python literal. Unset or empty: go on.
   Never copied to the cache file;
3. **the cache file** (``.token-oauth``), when it was issued for this host, app and scope;
4. **a fresh authorization**: a person allows access in a browser, the code is
   exchanged for a token, and the token is written to the cache file.

A token counts as expired ``expiry_margin`` seconds (60) before its expiry. An expired
token in memory falls through to the next steps (another process may have renewed
the cache); an expired token from the environment or the cache needs a fresh
authorization. In a process where nobody can be asked (no terminal, ``CI`` set, or
``interactive=False``) that raises
[`ReauthorizationRequired`][ticktick.errors.ReauthorizationRequired]
at once instead of waiting on a prompt.

TickTick issues no refresh tokens: every token (about 180 days) ends in a new
authorization by a person.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
from requests.auth import HTTPBasicAuth
from urllib3.exceptions import NewConnectionError

from .endpoints import Endpoints, resolve_host
from .errors import (
    ConfigurationError,
    OAuthError,
    ReauthorizationRequired,
    TokenExpiryWarning,
    TokenFormatError,
    TransportError,
    _excerpt,
    _oauth_error,
)
from .session import DEFAULT_TIMEOUT, TimeoutHTTPAdapter, requests_retry_session, token_retry
from .signon import (
    DEFAULT_SIGNON_TIMEOUT,
    AuthorizationRequest,
    Authorizer,
    SignOn,
    no_terminal_reason,
)
from .store import DEFAULT_CACHE_PATH, EnvSource, FileStore, TokenIdentity, TokenStore
from .token import (
    DEFAULT_EXPIRY_MARGIN,
    TokenDict,
    expire_time_of,
    is_expired,
    readable_time,
    token_from_response,
    validate_token_dict,
)

__all__ = ["DEFAULT_SCOPE", "OAuth2"]

logger = logging.getLogger("ticktick")

DEFAULT_SCOPE = "tasks:write tasks:read"
MAX_RESPONSE_SIZE = 1024 * 1024
"""The largest token endpoint answer read, in bytes."""

Timeout = float | tuple[float, float]


class OAuth2:
    """Gets, caches and keeps an OAuth2 access token for the TickTick Open API.

    Args:
        client_id: The app's client id (developer.ticktick.com/manage).
        client_secret: The app's client secret. Sent only in an HTTP Basic header.
        redirect_uri: The redirect URI registered for the app, exactly (a trailing
            slash counts), e.g. ``"http://127.0.0.1:8080/"``.
        scope: Space-separated scopes; TickTick knows ``tasks:read`` and ``tasks:write``.
        state: A fixed ``state`` value. By default each authorization uses a new
            random one, which is what protects against forged redirects.
        session: A ``requests`` session for API calls; a retrying one by default.
        env_key: The environment variable holding a token dict (``"ACCESS_TOKEN_DICT"``).
        cache_path: The token cache file; ``None`` keeps the token in memory only.
        check_cache: Whether the constructor may use the cache file.
        host: ``"ticktick.com"`` (default), ``"dida365.com"``, or a compatible server's
            base URL. All URLs follow from it.
        expiry_margin: Seconds before expiry at which a token counts as expired.
        timeout: Timeout of each HTTP request, in seconds or ``(connect, read)``.
        signon_timeout: Seconds a person has to complete an authorization.
        expiry_warning_days: Warn (logging and
            [`TokenExpiryWarning`][ticktick.errors.TokenExpiryWarning]) once when a
            resolved token has fewer days left than this.
        interactive: Whether a person may be asked to authorize. ``None`` (default)
            asks only when standard input is a terminal and ``CI`` is not set, or when
            a custom ``authorizer`` is given.
        authorizer: Replaces the terminal sign-on; see [`ticktick.signon`][ticktick.signon].
        store: Where the token is kept and shared ([`ticktick.store`][ticktick.store]); replaces
            ``cache_path``. A store's lock makes sure that, of many processes needing
            a token at once, exactly one asks a person and the others use its result.
        resolve: Resolve a token in the constructor, as ticktick-py does. With
            ``False``, the first `get_access_token` call does it.

    Raises:
        ConfigurationError: An argument cannot work (empty client id, unknown host).
        ReauthorizationRequired: No usable token and nobody to ask (with ``resolve``).

    Examples:
        >>> oauth = OAuth2(client_id="...", client_secret="...",  # doctest: +SKIP
        ...                redirect_uri="http://127.0.0.1:8080/", env_key="ACCESS_TOKEN_DICT")
        >>> headers = {"Authorization": f"Bearer {oauth.get_access_token()}"}  # doctest: +SKIP
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scope: str = DEFAULT_SCOPE,
        state: str | None = None,
        session: requests.Session | None = None,
        env_key: str | None = None,
        cache_path: str | os.PathLike[str] | None = DEFAULT_CACHE_PATH,
        check_cache: bool = True,
        *,
        host: str | Endpoints = "ticktick.com",
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
        timeout: Timeout = DEFAULT_TIMEOUT,
        signon_timeout: float = DEFAULT_SIGNON_TIMEOUT,
        expiry_warning_days: float = 14,
        interactive: bool | None = None,
        authorizer: Authorizer | None = None,
        store: TokenStore | None = None,
        resolve: bool = True,
    ) -> None:
        for name, value in (("client_id", client_id), ("client_secret", client_secret)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(
                    f"{name} is empty. Copy it from your app's page on the developer portal "
                    "(developer.ticktick.com/manage or developer.dida365.com/manage)."
                )
        if not isinstance(redirect_uri, str) or "://" not in redirect_uri:
            raise ConfigurationError(
                "redirect_uri must be the full redirect URL registered for the app, "
                "e.g. 'http://127.0.0.1:8080/'."
            )
        if not scope.split():
            raise ConfigurationError("scope is empty; use 'tasks:write tasks:read'.")
        self.endpoints = resolve_host(host)
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._scope = scope
        self._state = state
        self.env_key = env_key
        self.expiry_margin = expiry_margin
        self.timeout = timeout
        self.signon_timeout = signon_timeout
        self.expiry_warning_days = expiry_warning_days
        self._warned_token: str | None = None
        self.interactive = interactive
        self.identity = TokenIdentity(self.endpoints.host, client_id, scope)
        self.session = session or requests_retry_session(timeout=timeout)
        self.cache: TokenStore | None
        """The token store (ticktick-py's ``cache``; ``get_cached_token()`` works on it)."""
        if store is not None:
            if store.identity is None:
                store.identity = self.identity
            elif store.identity != self.identity:
                raise ConfigurationError(
                    f"The store is for {store.identity}, but this client is {self.identity}."
                )
            self.cache = store
        elif cache_path is not None:
            self.cache = FileStore(cache_path, identity=self.identity)
        else:
            self.cache = None
        self._authorizer: Authorizer = authorizer or SignOn()
        self._custom_authorizer = authorizer is not None
        self._token_adapter = TimeoutHTTPAdapter(max_retries=token_retry(), timeout=timeout)
        self._lock = threading.RLock()
        self._info: TokenDict | None = None
        self._token: str | None = None
        self._valid_until = float("-inf")
        self.token_source: str | None = None
        """Where the current token came from: ``"memory"``, ``"env:NAME"``, ``"cache:PATH"``
        or ``"authorization"``."""
        if resolve:
            self.get_access_token(check_cache=check_cache, check_env=env_key)

    # -- the token held in memory ---------------------------------------------------

    @property
    def access_token_info(self) -> TokenDict | None:
        """The current token dict (ticktick-py's attribute), or ``None``."""
        return self._info

    @access_token_info.setter
    def access_token_info(self, value: Mapping[str, Any] | None) -> None:
        if value is None:
            self._set_token(None, None)
        else:
            info = validate_token_dict(
                dict(value), source="The token given to access_token_info", advice=""
            )
            self._set_token(info, "memory")

    def _set_token(self, info: TokenDict | None, source: str | None) -> None:
        with self._lock:
            self._info = info
            self._token = None if info is None else info["access_token"]
            expire_time = None if info is None else expire_time_of(info)
            self._valid_until = (
                float("-inf")
                if info is None
                else float("inf")
                if expire_time is None
                else expire_time - self.expiry_margin
            )
            self.token_source = source

    def forget_token(self) -> None:
        """Drop the token held in memory; the next call resolves again."""
        self._set_token(None, None)

    def discard_token(self, access_token: str) -> None:
        """Forget *access_token* because the server refused it.

        Drops it from memory, and from the cache file if the file still holds it (a
        newer token written meanwhile by another process is kept). The next
        `get_access_token` resolves again: the environment, the cache, or a new
        authorization (``ReauthorizationRequired`` where nobody can be asked).
        """
        with self._lock:
            if self._token == access_token:
                self._set_token(None, None)
            if self.cache is not None:
                self.cache.discard(access_token)

    # -- resolution -------------------------------------------------------------------

    def get_access_token(self, check_cache: bool = True, check_env: str | None = None) -> str:
        """Return a valid access token, resolving one if needed.

        Order: memory, the environment variable, the cache file, a fresh authorization.

        Args:
            check_cache: Whether to use the cache file.
            check_env: The environment variable to read; by default the constructor's
                ``env_key``. Pass ``""`` to skip the environment.

        Raises:
            TokenFormatError: The variable is set but does not hold a usable token dict.
            ReauthorizationRequired: A person must authorize and none can be asked here.
            OAuthError: The authorization or the token request failed.
        """
        token = self._token
        if token is not None and time.time() < self._valid_until:
            return token
        with self._lock:
            # Another thread may have resolved the token while this one waited.
            if self._token is not None and time.time() < self._valid_until:
                return self._token
            if self._info is not None:
                logger.info("The token in memory has expired; resolving again.")
            env_name = self.env_key if check_env is None else check_env
            info, source = self._resolve(check_cache, env_name or None)
            self._set_token(info, source)
            access_token: str = info["access_token"]
            self._warn_if_expiring(info, access_token)
            return access_token

    def _warn_if_expiring(self, info: Mapping[str, Any], access_token: str) -> None:
        """Warn once per token when it has fewer than ``expiry_warning_days`` left."""
        expire_time = expire_time_of(info)
        if expire_time is None or self._warned_token == access_token:
            return
        days_left = (expire_time - time.time()) / 86400
        if days_left >= self.expiry_warning_days:
            return
        self._warned_token = access_token
        renew = f"run '{self.login_command()}'"
        if self.token_source is not None and self.token_source.startswith("env:"):
            renew += f", then store 'ticktick-auth export' in {self.token_source[4:]}"
        message = (
            f"The TickTick token from {self.token_source} expires on "
            f"{readable_time(expire_time)} ({max(days_left, 0):.1f} days left). TickTick "
            f"issues no refresh tokens: to renew it, {renew}."
        )
        logger.warning(message)
        warnings.warn(message, TokenExpiryWarning, stacklevel=3)

    def login_command(self) -> str:
        """The ``ticktick-auth login`` command line that gets a new token for this client."""
        parts = ["ticktick-auth", "login", "--client-id", self._client_id]
        parts += ["--redirect-uri", self._redirect_uri]
        if self.endpoints.host != "ticktick.com":
            parts += ["--host", self.endpoints.host]
        if self.cache is None:
            parts += ["--no-cache"]
        elif isinstance(self.cache, FileStore):
            if self.cache.path != DEFAULT_CACHE_PATH:
                parts += ["--cache-path", self.cache.path]
        else:
            parts += getattr(self.cache, "cli_options", lambda: [])()
        return shlex.join(parts)

    def _resolve(self, check_cache: bool, env_name: str | None) -> tuple[TokenDict, str]:
        if env_name is not None:
            info = EnvSource(env_name).read()
            if info is not None:
                if not self._expired(info):
                    return info, f"env:{env_name}"
                origin = f"The token in the environment variable {env_name}"
                return self._fresh_token(self._expired_reason(info, origin), check_cache)
        if check_cache and self.cache is not None:
            info = self.cache.read()
            if info is not None:
                if not self._expired(info):
                    return info, f"cache:{self.cache.describe()}"
                origin = f"The token cached in {self.cache.describe()}"
                return self._fresh_token(self._expired_reason(info, origin), check_cache)
        return self._fresh_token("No token was found", check_cache)

    def _fresh_token(self, why: str, reuse_cache: bool) -> tuple[TokenDict, str]:
        """A new token, authorized by at most one process sharing the store.

        Under the store's lock: read the store again (another process may have just
        authorized; then that token is used), and only if it still has no valid token,
        authorize and write. Every other process waits on the lock meanwhile.
        """
        if self.cache is None:
            return self._authorize(why), "authorization"
        with self.cache.lock(self.signon_timeout + 30):
            if reuse_cache:
                info = self.cache.read()
                if info is not None and not self._expired(info):
                    logger.info("Another process renewed the token meanwhile; using it.")
                    return info, f"cache:{self.cache.describe()}"
            return self._authorize(why), "authorization"

    def _expired(self, info: Mapping[str, Any]) -> bool:
        return is_expired(info, self.expiry_margin)

    @staticmethod
    def _expired_reason(info: Mapping[str, Any], origin: str) -> str:
        expire_time = expire_time_of(info)
        when = readable_time(expire_time) if expire_time is not None else "an unknown time"
        return f"{origin} expired (or expires within the margin) at {when}"

    def validate_token(self, token_dict: Mapping[str, Any] | None) -> TokenDict | None:
        """Return *token_dict* if usable, a new token if it has expired, ``None`` if absent.

        Keeps ticktick-py's meaning. An expired token starts a fresh authorization,
        or raises [`ReauthorizationRequired`][ticktick.errors.ReauthorizationRequired]
        where nobody can be asked.

        Raises:
            TokenFormatError: *token_dict* is not a usable token dict.
        """
        if token_dict is None:
            return None
        info = validate_token_dict(token_dict, source="The token dict", advice="")
        if self._expired(info):
            with self._lock:
                fresh, source = self._fresh_token(self._expired_reason(info, "The token"), True)
                self._set_token(fresh, source)
                return fresh
        return info

    @staticmethod
    def is_token_expired(
        token_dict: Mapping[str, Any], margin: float = DEFAULT_EXPIRY_MARGIN
    ) -> bool:
        """Tell whether the token expires within *margin* seconds (ticktick-py's test).

        A token without ``expire_time`` has an unknown expiry and is not expired.
        """
        return is_expired(token_dict, margin)

    # -- fresh authorization ------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        """The authorize URL without ``state``; each authorization adds its own."""
        return self._authorize_url(state=None)

    def _authorize_url(self, state: str | None) -> str:
        params = {
            "client_id": self._client_id,
            "scope": self._scope,
            "redirect_uri": self._redirect_uri,
            "response_type": "code",
        }
        if state is not None:
            params["state"] = state
        return f"{self.endpoints.authorize_url}?{urlencode(params)}"

    def _no_prompt_reason(self) -> str | None:
        if self.interactive is not None:
            return None if self.interactive else "interactive=False was given"
        if self._custom_authorizer:
            return None
        return no_terminal_reason()

    def authorize(self) -> TokenDict:
        """Run a fresh authorization now, whatever token exists; return and keep the new one.

        The new token is written to the cache file (unless ``cache_path=None``).

        Raises:
            ReauthorizationRequired: Nobody can be asked here (see ``interactive``).
            OAuthError: The person refused, or the token request failed.
        """
        with self._lock:
            if self.cache is None:
                info = self._authorize("A new token was asked for")
            else:
                with self.cache.lock(self.signon_timeout + 30):
                    info = self._authorize("A new token was asked for")
            self._set_token(info, "authorization")
            return info

    def _authorize(self, why: str) -> TokenDict:
        """Run a fresh authorization and return the new token, written to the cache."""
        reason = self._no_prompt_reason()
        if reason is not None:
            where = (
                f", then put the output of 'ticktick-auth export' in {self.env_key}"
                if self.env_key
                else ""
            )
            raise ReauthorizationRequired(
                f"{why}, and a new token needs a person to authorize in a browser, which "
                f"cannot happen here: {reason}. In a terminal, run: {self.login_command()}"
                f"{where}."
            )
        logger.info("%s; starting a fresh authorization.", why)
        state = self._state if self._state is not None else secrets.token_urlsafe(24)
        request = AuthorizationRequest(
            url=self._authorize_url(state),
            state=state,
            redirect_uri=self._redirect_uri,
            timeout=self.signon_timeout,
        )
        code = self._authorizer(request)
        info = self.exchange_code(code)
        if self.cache is not None:
            self.cache.write(info)
        return info

    def exchange_code(self, code: str) -> TokenDict:
        """Exchange an authorization code for a token (sent once; never retried after sending).

        The request is a form POST as TickTick documents it, with the client
        credentials in an HTTP Basic header, never in the URL. It is retried only
        when the server cannot have used the code: connection refused, or 429/503.

        Raises:
            OAuthError: The server refused (``InvalidGrant``, ``InvalidClient``, ...).
            TokenFormatError: The server's answer is not a token.
            TransportError: The server could not be reached or did not answer in time.
        """
        url = self.endpoints.token_url
        request = requests.Request(
            "POST",
            url,
            data={
                "code": code,
                "grant_type": "authorization_code",
                "scope": self._scope,
                "redirect_uri": self._redirect_uri,
            },
            auth=HTTPBasicAuth(self._client_id, self._client_secret),
            headers={"Accept": "application/json"},
        )
        prepared = self.session.prepare_request(request)
        settings = self.session.merge_environment_settings(url, {}, True, None, None)
        secret_values = (code, self._client_secret)
        try:
            response = self._token_adapter.send(
                prepared,
                stream=True,
                timeout=self.timeout,
                verify=settings["verify"] if settings["verify"] is not None else True,
                cert=settings["cert"],
                proxies=settings["proxies"],
            )
            body = _read_limited(response, MAX_RESPONSE_SIZE, self.timeout)
        except requests.ConnectTimeout:
            raise TransportError(
                f"Could not connect to {url} in time. Check the network, any proxy, and host=."
            ) from None
        except requests.ReadTimeout:
            raise TransportError(
                f"{url} did not answer in time after the code was sent; the code may have been "
                "used. Authorize again."
            ) from None
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                raise TransportError(
                    f"Could not connect to {url}: connection refused or host unreachable. "
                    "Check the network, any proxy, and host=."
                ) from None
            raise TransportError(
                f"The connection to {url} broke after the code was sent; the code may have "
                "been used. Authorize again."
            ) from None
        except requests.RequestException as exc:
            raise TransportError(
                f"The token request to {url} failed ({type(exc).__name__}). Authorize again."
            ) from None
        return _token_or_error(response.status_code, body, url, secret_values)

    def __repr__(self) -> str:
        if self._info is None:
            held = "none"
        else:
            expire_time = expire_time_of(self._info)
            until = readable_time(expire_time) if expire_time is not None else "unknown"
            held = f"<valid until {until}, from {self.token_source}>"
        return (
            f"OAuth2(client_id={self._client_id!r}, host={self.endpoints.host!r}, "
            f"scope={self._scope!r}, token={held})"
        )


def _never_sent(exc: requests.ConnectionError) -> bool:
    """Tell whether a connection error happened before the request left."""
    reason: object = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


def _read_limited(response: requests.Response, limit: int, timeout: Timeout) -> bytes:
    """Read at most *limit* bytes of a streamed body within an overall deadline."""
    read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
    deadline = time.monotonic() + read_timeout
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=16384):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
            if time.monotonic() > deadline:
                raise requests.ReadTimeout("the answer did not finish in time")
    finally:
        response.close()
    return b"".join(chunks)


def _token_or_error(
    status: int, body: bytes, url: str, secret_values: tuple[str, ...]
) -> TokenDict:
    """Turn the token endpoint's answer into a token or a typed error."""
    what = f"The token request to {url}"
    if len(body) > MAX_RESPONSE_SIZE:
        raise TokenFormatError(
            f"{what} got an answer larger than {MAX_RESPONSE_SIZE} bytes (HTTP {status}); it "
            "cannot be a token. Check host=."
        )
    text = body.decode("utf-8", errors="replace")
    try:
        parsed: object = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if 200 <= status < 300:
        if not isinstance(parsed, dict):
            raise TokenFormatError(
                f"{what} answered HTTP {status} with a body that is not a JSON object: "
                f"{_excerpt(text, secret_values)!r}. Check host=, then authorize again."
            )
        return token_from_response(parsed)
    error = description = None
    if isinstance(parsed, dict):
        raw_error, raw_description = parsed.get("error"), parsed.get("error_description")
        error = raw_error if isinstance(raw_error, str) else None
        description = raw_description if isinstance(raw_description, str) else None
    failure: OAuthError = _oauth_error(
        what=what,
        status=status,
        error=error,
        error_description=description,
        body_excerpt=_excerpt(text, secret_values) if error is None else None,
        secrets=secret_values,
    )
    raise failure
