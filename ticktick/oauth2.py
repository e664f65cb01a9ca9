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
token falls through to the next step: in memory (another process may have renewed
the cache) and in the environment (the cache may hold a newer one), by the same rule
as ``ticktick-auth`` ([`ticktick.resolution`][ticktick.resolution]). When no valid token
is left, a fresh authorization is needed. In a process where nobody can be asked (no
terminal, ``CI`` set, or ``interactive=False``) that raises
[`ReauthorizationRequired`][ticktick.errors.ReauthorizationRequired]
instead of waiting on a prompt: at once, unless another process sharing the store is
signing on just then; it then says (a logged warning) that it waits for that process,
and for how long, and uses its token.

A new token whose store cannot be written (a full disk, a read-only folder) is not
lost: it is returned and kept in memory, `OAuth2.store_error` says why it was not
stored, and a [`TokenNotStoredWarning`][ticktick.errors.TokenNotStoredWarning] is
issued (and logged).

TickTick issues no refresh tokens: every token (about 180 days) ends in a new
authorization by a person.
"""

from __future__ import annotations

import os
import time
import warnings
from _thread import RLock

from ._defaults import (
    DEFAULT_SCOPE,
    DEFAULT_SIGNON_TIMEOUT,
    DEFAULT_TIMEOUT,
    Timeout,
    check_seconds,
    check_timeout,
)
from .endpoints import Endpoints, check_redirect_uri, resolve_host
from .errors import (
    ConfigurationError,
    ReauthorizationRequired,
    RedirectUriMismatch,
    TokenCacheError,
    TokenExpiryWarning,
    TokenNotStoredWarning,
    argument,
)
from .resolution import Resolver
from .stores import DEFAULT_CACHE_PATH, FileStore, TokenIdentity, TokenStore
from .stores.base import bind_identity, cli_options_of, normalize_scope
from .token import (
    DEFAULT_EXPIRY_MARGIN,
    TokenDict,
    expire_time_of,
    is_expired,
    readable_time,
    validate_token_dict,
)

# Everything a network request or a sign-on needs (requests, the sign-on, logging,
# secrets, ...) is imported where it is used: a client that finds a valid cached
# token never imports requests, so it starts fast.
TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping
    from typing import Any

    import requests

    from .revocation import Revocation
    from .signon import Authorizer

__all__ = ["DEFAULT_SCOPE", "OAuth2"]


def __getattr__(name: str) -> Any:
    """ticktick-py's ``from ticktick.oauth2 import requests_retry_session`` keeps working.

    Imported on first use, so that this module (a cached ``OAuth2()``) never loads requests.
    """
    if name == "requests_retry_session":
        from ._http.session import requests_retry_session

        return requests_retry_session
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _logger() -> logging.Logger:
    import logging

    return logging.getLogger("ticktick")


def _check_amount(value: float, name: str, unit: str, example: int) -> float:
    """Return *value* if it is a finite number, 0 or more, else raise `ConfigurationError`.

    ``nan`` is refused: every comparison with it is false, so a token would never
    count as expired.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value < float("inf")  # also refuses nan
    ):
        raise ConfigurationError(
            f"{name}={value!r} cannot work: it must be a finite number of {unit}, 0 or more "
            f"(e.g. {name}={example})."
        )
    return value


def _check_pairs(
    store: TokenStore | None,
    cache_path: str | os.PathLike[str] | None,
    check_cache: bool,
    resolve: bool,
) -> None:
    """Refuse two `OAuth2` arguments that contradict each other, naming both."""
    if store is not None and cache_path is not None:
        path = os.fspath(cache_path)
        # The default file, however it is spelled, or no path at all, is no contradiction.
        if path and os.path.normpath(path) != DEFAULT_CACHE_PATH:
            raise ConfigurationError(
                f"store= (a {type(store).__name__}) and cache_path={path!r} were both given, "
                "but the store replaces the cache file. Pass one of them (for that file: "
                f"cache_path={path!r}, or store=FileStore({path!r}))."
            )
    if not check_cache and not resolve:
        raise ConfigurationError(
            "check_cache=False and resolve=False were both given, but check_cache only "
            "governs the constructor's resolution, which resolve=False skips. Leave "
            "check_cache out, and call get_access_token(check_cache=False) to skip the store."
        )


def _secret_asker(profile: str, client_id: str) -> Callable[[], str]:
    """The function that finds a profile's client secret when a sign-on first needs it.

    The keyring, then a prompt without echo on a terminal.
    """

    def ask() -> str:
        from .profiles import client_secret_from_keyring

        secret = client_secret_from_keyring(client_id)
        if secret is not None:
            return secret
        from .signon import no_terminal_reason

        reason = no_terminal_reason()
        if reason is None:
            from ._defaults import DEFAULT_SIGNON_TIMEOUT
            from .signon.terminal import read_hidden_line

            prompt = f"Client secret of the profile {profile!r}: "
            secret = read_hidden_line(prompt, DEFAULT_SIGNON_TIMEOUT).strip()
        if not secret:
            raise ConfigurationError(
                f"The profile {profile!r} needs its app's client secret to sign on, and none "
                "was given: pass client_secret=, set TICKTICK_CLIENT_SECRET, or keep it in "
                f"the keyring (keyring set ticktick-oauth client_secret:{client_id})."
            )
        return secret

    return ask


class OAuth2(Resolver):
    """Gets, caches and keeps an OAuth2 access token for the TickTick Open API.

    ticktick-py's surface over a [`Resolver`][ticktick.resolution.Resolver], which
    finds the token (`get_access_token`: memory, environment, store, sign-on); this
    class adds the sign-on and ticktick-py's names.

    Args:
        client_id: The app's client id (developer.ticktick.com/manage).
        client_secret: The app's client secret. Sent only in an HTTP Basic header. A
            function returning it is called once, when a sign-on first needs it (before
            the person is sent to sign on).
        redirect_uri: The redirect URI registered for the app, exactly (a trailing
            slash counts), e.g. ``"http://127.0.0.1:8080/"``.
        scope: Space-separated scopes; TickTick knows ``tasks:read`` and ``tasks:write``.
        state: A fixed ``state`` value. By default each authorization uses a new
            random one, which is what protects against forged redirects.
        session: A ``requests`` session for API calls; a retrying one by default.
        env_key: The environment variable holding a token dict (``"ACCESS_TOKEN_DICT"``).
        cache_path: The token cache file (a `FileStore`); ``None`` keeps the token in
            memory only. Give ``store=`` instead for another store, not both.
        check_cache: Whether the constructor's resolution may use the store; with
            ``False`` it skips it (a new authorization unless the environment has a
            token). Later calls use the store; ``get_access_token(check_cache=False)``
            skips it for one call. Requires ``resolve``.
        host: ``"ticktick.com"`` (default), ``"dida365.com"``, or a compatible server's
            base URL. All URLs follow from it.
        expiry_margin: Seconds before expiry at which a token counts as expired.
        timeout: Timeout of each HTTP request, in seconds or ``(connect, read)``.
        signon_timeout: Seconds a person has to complete an authorization.
        expiry_warning_days: Warn (logging and
            [`TokenExpiryWarning`][ticktick.errors.TokenExpiryWarning]) once when a
            resolved token has fewer days left than this.
        interactive: Whether a person may be asked to authorize: ``False`` never
            (not even through ``authorizer``), ``True`` always, ``None`` (default) when
            a custom ``authorizer`` is given or standard input is a terminal and ``CI``
            is not set.
        authorizer: How a person is asked, replacing the terminal sign-on (see
            [`ticktick.signon`][ticktick.signon]); whether is ``interactive``'s choice.
        store: Where the token is kept and shared ([`ticktick.stores`][ticktick.stores]),
            instead of the ``cache_path`` file. A store's lock makes sure that, of many
            processes needing a token at once, exactly one asks a person and the
            others use its result. A store made without an identity is bound to this
            client's (`bind_identity`); one bound to another client is refused.
        resolve: Resolve a token in the constructor, as ticktick-py does. With
            ``False``, the first `get_access_token` call does it.
        pkce: Protect each authorization with PKCE (RFC 7636, S256): the authorize
            URL carries the challenge of a fresh secret verifier, and the token
            request sends the verifier. ``False`` for a server that refuses it.

    Raises:
        ConfigurationError: An argument cannot work (empty client id, unknown or
            malformed host, a redirect URI that is not an http(s) URL with a host and a
            port from 1 to 65535, ``nan`` or a negative ``expiry_margin``, a store for
            another app), or two contradict each other (``store`` with a
            ``cache_path``, ``check_cache=False`` with ``resolve=False``).
        ReauthorizationRequired: No usable token and nobody to ask (with ``resolve``).

    Examples:
        >>> oauth = OAuth2(client_id="...", client_secret="...",  # doctest: +SKIP
        ...                redirect_uri="http://127.0.0.1:8080/", env_key="ACCESS_TOKEN_DICT")
        >>> headers = {"Authorization": f"Bearer {oauth.get_access_token()}"}  # doctest: +SKIP
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str | Callable[[], str],
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
        pkce: bool = True,
    ) -> None:
        for name, value in (("client_id", client_id), ("client_secret", client_secret)):
            if name == "client_secret" and callable(value):
                continue  # asked for when a sign-on first needs it (see `from_profile`)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(
                    f"{name} is empty. Copy it from your app's page on the developer portal "
                    "(developer.ticktick.com/manage or developer.dida365.com/manage)."
                )
        check_redirect_uri(redirect_uri)
        if not scope.split():
            raise ConfigurationError("scope is empty; use 'tasks:write tasks:read'.")
        _check_pairs(store, cache_path, check_cache, resolve)
        self.endpoints = resolve_host(host)
        self._client_id = client_id
        self._secret: str | Callable[[], str] = client_secret
        self._redirect_uri = redirect_uri
        self._scope = scope
        self._state = state
        self.pkce = pkce
        """Whether authorizations use PKCE (the ``pkce`` argument)."""
        self._pending_verifier: str | None = None  # the verifier of the last `authorize_url`
        self._pending_tried = False  # whether an exchange_code with it has failed already
        self.timeout = check_timeout(timeout)
        self.expiry_warning_days = _check_amount(
            expiry_warning_days, "expiry_warning_days", "days", 14
        )
        self._warned_token: str | None = None
        self.interactive = interactive
        self.identity = TokenIdentity(self.endpoints.host, client_id, scope)
        self._session = session
        self._authorizer: Authorizer | None = authorizer
        self._custom_authorizer = authorizer is not None
        self._token_adapter: requests.adapters.HTTPAdapter | None = None
        self._lock = RLock()
        cache: TokenStore | None = None
        if store is not None:
            cache = store  # bound to this client's identity below, once all is checked
        elif cache_path is not None:
            cache = FileStore(cache_path, identity=self.identity)
        super().__init__(
            cache=cache,
            env_key=env_key,
            expiry_margin=_check_amount(
                expiry_margin, "expiry_margin", "seconds", DEFAULT_EXPIRY_MARGIN
            ),
            signon_timeout=check_seconds(signon_timeout, f"signon_timeout={signon_timeout!r}"),
            lock=self._lock,
        )
        if store is not None:
            bind_identity(store, self.identity)
        self.store_error: TokenCacheError | None = None
        """Why the last new token could not be written to the store (it is then kept in
        memory only), or ``None`` when it was stored."""
        if resolve:
            self.get_access_token(check_cache=check_cache, check_env=env_key)

    @property
    def _client_secret(self) -> str:
        """The client secret; a function given instead is called once, when first needed."""
        secret = self._secret
        if callable(secret):
            with self._lock:
                if callable(self._secret):
                    given = self._secret()
                    if not isinstance(given, str) or not given.strip():
                        raise ConfigurationError(
                            "The client_secret function gave no secret. Copy it from your "
                            "app's page on the developer portal."
                        )
                    self._secret = given
                secret = self._secret
        assert isinstance(secret, str)  # noqa: S101 # nosec B101
        return secret

    @classmethod
    def from_profile(
        cls, name: str | None = None, *, client_secret: str | None = None, **options: Any
    ) -> OAuth2:
        """The client of the profile *name* that ``ticktick-auth login --profile`` saved.

        It uses the profile's client id, redirect URI, host, scope and store, so it reads
        the same token as ``ticktick-auth token --profile NAME`` (see
        [`ticktick.profiles`][ticktick.profiles]). With no *name*: ``TICKTICK_PROFILE``,
        else the profile file's default (the first profile saved).

        The client secret is never in the profile: *client_secret*, else
        ``TICKTICK_CLIENT_SECRET``, else, only when a sign-on needs it, the keyring
        (``client_secret:<client id>`` of the service ``ticktick-oauth``) or a prompt
        without echo on a terminal. A cached token needs no secret.

        *options* go to `OAuth2` (``env_key=``, ``interactive=``, ``resolve=``, ...).

        Raises:
            ConfigurationError: There is no such profile (the message lists the known
                ones), the profiles file is not valid, or the profile lacks a setting.
        """
        from .profiles import ProfilesFile

        profiles = ProfilesFile()
        profile = profiles.get(name)
        if profile.client_id is None or profile.redirect_uri is None:
            raise ConfigurationError(
                f"The profile {profile.name!r} in {profiles.path} has no client id or no "
                f"redirect URI. Run 'ticktick-auth login --profile {profile.name}' with "
                "--client-id and --redirect-uri to set them."
            )
        kind = profile.store or "file"
        own_store = "store" in options or "cache_path" in options  # the caller's, not the profile's
        if not own_store and kind == "keyring":
            from .profiles import store_namespace
            from .stores.keyring import KeyringStore

            options["store"] = KeyringStore(service=store_namespace(profile.name))
        elif not own_store and kind == "redis":
            from ._defaults import DEFAULT_REDIS_URL
            from .profiles import store_namespace
            from .stores.redis import RedisStore

            url = profile.redis_url or DEFAULT_REDIS_URL
            options["store"] = RedisStore(url, prefix=store_namespace(profile.name))
        elif not own_store:
            options["cache_path"] = profile.cache_path or profiles.token_path(profile.name)
        secret: str | Callable[[], str] | None = client_secret or os.environ.get(
            "TICKTICK_CLIENT_SECRET"
        )
        if not secret:
            secret = _secret_asker(profile.name, profile.client_id)
        options.setdefault("scope", profile.scope or DEFAULT_SCOPE)
        options.setdefault("host", profile.host or "ticktick.com")
        resolve, check_cache = options.pop("resolve", True), options.pop("check_cache", True)
        _check_pairs(None, None, check_cache, resolve)
        client = cls(profile.client_id, secret, profile.redirect_uri, resolve=False, **options)
        if not own_store:
            client._profile = profile.name  # advice: 'ticktick-auth login --profile NAME
        if resolve:  # as the constructor does, once the advice names the profile
            client.get_access_token(check_cache=check_cache, check_env=client.env_key)
        return client

    @property
    def session(self) -> requests.Session:
        """The retrying ``requests`` session (ticktick-py's attribute), made on first use."""
        if self._session is None:
            from ._http.session import requests_retry_session

            with self._lock:
                if self._session is None:
                    self._session = requests_retry_session(timeout=self.timeout)
        return self._session

    @session.setter
    def session(self, value: requests.Session) -> None:
        self._session = value

    # -- the token held in memory (the resolution itself: `Resolver.get_access_token`) ----

    @property
    def access_token_info(self) -> TokenDict | None:
        """The current token dict (ticktick-py's attribute), or ``None``."""
        return self._info

    @access_token_info.setter
    def access_token_info(self, value: Mapping[str, Any] | None) -> None:
        if value is None:
            self._keep(None, None)
        else:
            info = validate_token_dict(
                dict(value), source="The token given to access_token_info", advice=""
            )
            self._keep(info, "memory")

    def forget_token(self) -> None:
        """Drop the token held in memory; the next call resolves again."""
        self._keep(None, None)

    def discard_token(self, access_token: str) -> None:
        """Forget *access_token* because the server refused it.

        Drops it from memory, and from the cache file if the file still holds it (a
        newer token written meanwhile by another process is kept). The next
        `get_access_token` resolves again: the environment, the cache, or a new
        authorization (``ReauthorizationRequired`` where nobody can be asked).

        Another process may be signing on meanwhile: this waits for it, as a
        resolution does (up to ``signon_timeout`` + 30 s, `SIGNON_LOCK_SLACK`, saying
        so), so that its new token is kept. In a read-only folder the file is left as it is.
        """
        with self._lock:
            if self._token == access_token:
                self._keep(None, None)
            if self.cache is not None:
                with self._store_lock(self.cache):
                    self.cache.discard(access_token)

    def revoke(self) -> Revocation:
        """Revoke this client's token at the server (RFC 7009), then remove it here.

        The token is the one in memory, else the one in the store. It is revoked at
        the ``revocation_endpoint`` the server's metadata advertises (see
        [`ticktick.revocation`][ticktick.revocation]), with this client's credentials
        in an HTTP Basic header, and then dropped from memory and the store. Where the
        server advertises none, nothing is sent and the token is removed here only:
        the result says so (``revoked=False`` and the reason), and so does a logged
        warning. A token in the ``env_key`` variable cannot be removed from there.

        Returns:
            What happened at the server: `Revocation` (``revoked``, ``endpoint``,
            ``reason``). With no token at all, ``revoked=False`` and nothing is sent.

        Raises:
            RevocationFailed: The server did not confirm the revocation (its
                metadata could not be read, or the request failed); the token is
                kept here (``token_removed=False``), so that revoke() can be tried again.
            TokenCacheError: The store cannot be read or written.
        """
        from .revocation import Revocation, revoke_token

        with self._lock:
            token = self._token
            if token is None and self.cache is not None:
                stored = self.cache.read()
                token = None if stored is None else stored["access_token"]
            if token is None:
                return Revocation(False, reason="There is no token to revoke.")
            result = revoke_token(
                endpoints=self.endpoints,
                client_id=self._client_id,
                client_secret=self._client_secret,
                token=token,
                session=self.session,
                timeout=self.timeout,
                kept_advice="The token is still kept here: call revoke() again later, or "
                "discard_token() with it to drop it here without revoking it.",
            )
            source = self.token_source if self._token == token else None
            if self._token == token:
                self._keep(None, None)
            if self.cache is not None:
                with self._store_lock(self.cache):
                    self.cache.discard(token)
        still = ""
        if source is not None and source.startswith("env:"):
            still = (
                f" It is still in the environment variable {source[4:]}, which this process "
                "cannot change: unset it, or the next get_access_token() reads it again."
            )
        if result.revoked:
            _logger().info("Revoked the token at %s and removed it here.%s", result.endpoint, still)
        else:
            _logger().warning("%s It was removed here only.%s", result.reason, still)
        return result

    def _resolved(self, info: TokenDict) -> None:
        """Warn once per token when it has fewer than ``expiry_warning_days`` left."""
        access_token = info["access_token"]
        expire_time = expire_time_of(info)
        if expire_time is None or self._warned_token == access_token:
            return
        days_left = (expire_time - time.time()) / 86400
        if days_left >= self.expiry_warning_days:
            return
        self._warned_token = access_token
        message = (
            f"The TickTick token from {self.token_source} expires on "
            f"{readable_time(expire_time)} ({max(days_left, 0):.1f} days left). TickTick "
            f"issues no refresh tokens: to renew it, {self.renewal_advice()}."
        )
        _logger().warning(message)
        warnings.warn(message, TokenExpiryWarning, stacklevel=3)

    # -- advice: the command that gets this client a new token ---------------------------

    def _client_options(self) -> list[str]:
        """The ``ticktick-auth`` options naming this client's app, host and scope.

        ``--host`` is always named, the default too: a ``TICKTICK_HOST`` where the
        command is run must not send it to another region.
        """
        parts = ["--client-id", self._client_id, "--host", self.endpoints.host]
        if normalize_scope(self._scope) != normalize_scope(DEFAULT_SCOPE):
            parts += ["--scope", self._scope]
        return parts

    _profile: str | None = None
    """The profile this client was made from (`from_profile`), when its store is the profile's."""

    def _store_options(self) -> list[str] | None:
        """The ``ticktick-auth`` options selecting this client's store; ``None`` if none can."""
        if self._profile is not None and self.cache is not None:
            return ["--profile", self._profile]
        return None if self.cache is None else cli_options_of(self.cache)

    def login_command(self) -> str:
        """The ``ticktick-auth login`` command line that gets a new token for this client.

        It signs on for this app, host and scope, and keeps the token where this client
        reads it: its cache file or store (`TokenStore.cli_options`). A client with no
        store the command can reach (``cache_path=None``, a `MemoryStore`) gets
        ``--no-cache --output env-dict``: the command prints the value to put in the
        ``env_key`` variable.
        """
        import shlex

        store_options = self._store_options()
        parts = ["ticktick-auth", "login", *self._client_options()]
        parts += ["--redirect-uri", self._redirect_uri]
        parts += ["--no-cache", "--output", "env-dict"] if store_options is None else store_options
        return shlex.join(parts)

    def renewal_advice(self) -> str:
        """What a person does to give this client a new token, e.g. ``run '...' in a terminal``.

        Every command in it is one this client's configuration can use as printed:
        the token ends up in the store this client reads, or in its ``env_key``.
        """
        import shlex

        login = self.login_command()
        store_options = self._store_options()
        if store_options is None:
            if self.env_key:
                return f"run '{login}' in a terminal and set {self.env_key} to the value it prints"
            if self.cache is None:
                kept = "it keeps its token in memory only"
            else:
                kept = f"ticktick-auth cannot write to its store ({self.cache.describe()})"
            return (
                "run this program where a person can sign on (a terminal, with CI unset): "
                f"{kept} (give it a cache_path= or an env_key= to read a token that the "
                "ticktick-auth command keeps)"
            )
        advice = f"run '{login}' in a terminal"
        if self.env_key:
            export = ["ticktick-auth", "export", "--env-key=", *self._client_options()]
            advice += (
                f"; wherever {self.env_key} is set (as in CI), set it to the output of "
                f"'{shlex.join([*export, *store_options])}'"
            )
        return advice

    # -- ticktick-py's token checks -------------------------------------------------------

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
        if is_expired(info, self.expiry_margin):
            expire_time = expire_time_of(info)
            when = readable_time(expire_time) if expire_time is not None else "an unknown time"
            why = f"The token expired (or expires within the margin) at {when}"
            with self._lock:
                fresh, source = self._renew(why, reuse_store=True)
                self._keep(fresh, source)
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
        """The authorize URL without ``state``, as ticktick-py builds it.

        With PKCE, each read makes a new verifier and puts its challenge in the URL;
        `exchange_code` then sends the verifier of the URL read last, and keeps it until
        an exchange succeeds (a failed one can be tried again). Only one URL read this
        way can be exchanged at a time: read it, sign on, exchange.
        """
        with self._lock:
            verifier = None
            if self.pkce:
                from .signon import new_code_verifier

                verifier = new_code_verifier()
            self._pending_verifier = verifier
            self._pending_tried = False
            return self._authorize_url(state=None, code_verifier=verifier)

    def _authorize_url(self, state: str | None, code_verifier: str | None = None) -> str:
        from urllib.parse import urlencode

        params = {
            "client_id": self._client_id,
            "scope": self._scope,
            "redirect_uri": self._redirect_uri,
            "response_type": "code",
        }
        if state is not None:
            params["state"] = state
        if code_verifier is not None:
            from .signon import code_challenge

            params["code_challenge"] = code_challenge(code_verifier)
            params["code_challenge_method"] = "S256"
        return f"{self.endpoints.authorize_url}?{urlencode(params)}"

    def _no_prompt_reason(self) -> str | None:
        if self.interactive is not None:
            return None if self.interactive else "interactive=False was given"
        if self._custom_authorizer:
            return None
        from .signon import no_terminal_reason

        return no_terminal_reason()

    def authorize(self) -> TokenDict:
        """Run a fresh authorization now, whatever token exists; return and keep the new one.

        The new token is written to the cache file (unless ``cache_path=None``). If
        that fails, the token is still returned and kept in memory; `store_error`
        says why, and a ``TokenNotStoredWarning`` is issued.

        Raises:
            ReauthorizationRequired: Nobody can be asked here (see ``interactive``).
            OAuthError: The person refused, or the token request failed.
        """
        with self._lock:
            if self.cache is None:
                info = self._sign_on("A new token was asked for")
            else:
                with self._store_lock(self.cache):
                    info = self._sign_on("A new token was asked for")
            self._keep(info, "authorization")
            return info

    def _sign_on(self, why: str) -> TokenDict:
        """Run a fresh authorization and return the new token, written to the store.

        A token that cannot be written is still returned (see `_keep_unstored`).
        """
        reason = self._no_prompt_reason()
        if reason is not None:
            raise ReauthorizationRequired(
                f"{why}, and a new token needs a person to authorize in a browser, which "
                f"cannot happen here: {reason}. To get one, {self.renewal_advice()}."
            )
        import secrets

        from .signon import AuthorizationRequest, SignOn, new_code_verifier

        self._client_secret  # noqa: B018 - found (keyring, prompt) before anyone signs on
        _logger().info("%s; starting a fresh authorization.", why)
        state = self._state if self._state is not None else secrets.token_urlsafe(24)
        if self._authorizer is None:
            self._authorizer = SignOn()
        verifier = new_code_verifier() if self.pkce else None
        request = AuthorizationRequest(
            url=self._authorize_url(state, verifier),
            state=state,
            redirect_uri=self._redirect_uri,
            timeout=self.signon_timeout,
            code_verifier=verifier,
        )
        code = self._authorizer(request)
        info = self._exchange(code, verifier)
        if self.cache is not None:
            try:
                self.cache.write(info)
            except TokenCacheError as exc:
                self._keep_unstored(exc)
            else:
                self.store_error = None
        return info

    def _keep_unstored(self, error: TokenCacheError) -> None:
        """Record and announce that a new token could not be stored (it is not lost)."""
        self.store_error = error
        message = (
            f"The new TickTick token could not be stored: {error} This process keeps using "
            "it (access_token_info holds it) until it ends; the next one will need a new "
            "authorization. Fix the problem above so that tokens are kept, or run "
            f"'{self.login_command()} --output json', which prints a new token even where "
            "it cannot be stored."
        )
        _logger().warning(message)
        warnings.warn(message, TokenNotStoredWarning, stacklevel=4)

    def exchange_code(self, code: str) -> TokenDict:
        """Exchange an authorization code for a token (sent once; never retried after sending).

        The request is a form POST as TickTick documents it, with the client
        credentials in an HTTP Basic header, never in the URL (see
        [`ticktick.exchange`][ticktick.exchange]). With PKCE it sends the verifier
        of the URL last read from `authorize_url` (ticktick-py's flow); the verifier is
        kept until an exchange succeeds, so a failed call (a busy server, a mistyped
        code) can be made again.

        Raises:
            OAuthError: The server refused (``InvalidGrant``, ``InvalidClient``, ...).
            TokenFormatError: The server's answer is not a token.
            TransportError: The server could not be reached or did not answer in time.
        """
        with self._lock:
            verifier, retried = self._pending_verifier, self._pending_tried
        try:
            token = self._exchange(code, verifier, pkce_hint=not retried)
        except BaseException:
            with self._lock:
                if self._pending_verifier is verifier:
                    self._pending_tried = verifier is not None
            raise
        with self._lock:
            if self._pending_verifier is verifier:
                self._pending_verifier = None  # used: its code is spent
        return token

    def _exchange(
        self, code: str, code_verifier: str | None, *, pkce_hint: bool = True
    ) -> TokenDict:
        """Exchange *code*, sending *code_verifier* if PKCE was used for it.

        An ``invalid_grant`` suggests ``pkce=False`` only when *pkce_hint*, the verifier
        was sent, and the server's answer plausibly concerns PKCE (it names it, or says
        nothing): never after a mistyped code, or a retry with a verifier sent before.
        """
        from .errors import InvalidGrant
        from .exchange import exchange_code, token_adapter

        if self._token_adapter is None:
            self._token_adapter = token_adapter(self.timeout)
        try:
            return exchange_code(
                session=self.session,
                adapter=self._token_adapter,
                token_url=self.endpoints.token_url,
                client_id=self._client_id,
                client_secret=self._client_secret,
                code=code,
                scope=self._scope,
                redirect_uri=self._redirect_uri,
                timeout=self.timeout,
                code_verifier=code_verifier,
            )
        except InvalidGrant as exc:
            if code_verifier is None or isinstance(exc, RedirectUriMismatch):
                raise  # a redirect mismatch has its own advice: the URI to use
            if not pkce_hint or not _plausibly_pkce(exc.error_description):
                raise
            raise InvalidGrant(
                f"{exc} This sign-on used PKCE: if the server does not support it, one "
                f"thing to try is to authorize again with {argument('pkce', False)}.",
                status=exc.status,
                error=exc.error,
                error_description=exc.error_description,
            ) from None

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


def _plausibly_pkce(description: str | None) -> bool:
    """Whether an ``invalid_grant`` with *description* may concern PKCE.

    It does when it names PKCE, the verifier or the challenge, or says nothing.
    """
    if not description:
        return True
    said = description.lower()
    return any(word in said for word in ("pkce", "verifier", "challenge"))
