"""A token store in Redis, shared by every process on every machine that can reach it.

Needs ``pip install 'ticktick-oauth[redis]'`` (the ``redis`` package).

* The token lives under one key derived from host, client id and scope
  (``ticktick-oauth:<host>:<digest>``), written with a single ``SET ... EX``: readers
  see the old token or the new one, and Redis drops it when it expires.
* The "only one authorizes" lock is a key set with ``SET NX PX`` and a random owner
  value. Only its owner releases it (a compare-and-delete script); while held it is
  renewed in the background, so a live holder keeps it through a long sign-on, and
  a holder that dies (even by ``SIGKILL``) loses it after ``lock_ttl`` seconds, when
  another worker takes over. Waiting is bounded by a timeout.
* Every command has one deadline for its whole exchange (*timeout*, 5 s by default):
  sending it and reading the whole reply, however slowly the server trickles it. The
  project's deadline mechanism (``ticktick._deadline``) shuts the connection's socket
  down when it passes; redis-py's own socket timeout bounds only each wait. The
  connection's handshake (``HELLO``, ``AUTH``, ``SELECT``) is commands too, each with
  its deadline; the TCP connect has redis-py's connect timeout. Commands are tried
  once (redis-py's retries are off), so *timeout* bounds each operation's command.
  A ``client=`` of the caller's own keeps its own timeouts.
* Every failure (an unreachable Redis, a timeout, a reply redis-py cannot make sense
  of) raises [`TokenCacheError`][ticktick.errors.TokenCacheError] naming the address
  (never the password); there is no silent fallback to another store.

Examples:
    >>> store = RedisStore("redis://cache.internal:6379/0")  # doctest: +SKIP
    >>> oauth = OAuth2(client_id, client_secret, redirect_uri, store=store)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .._deadline import Deadline
from .._defaults import DEFAULT_REDIS_URL, logger
from ..errors import ConfigurationError, TokenCacheError
from ..token import TokenDict, expire_time_of
from .base import TokenIdentity, TokenStore, check_identity, decode_token, encode_token
from .locks import Lock

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

DEFAULT_PREFIX = "ticktick-oauth"
"""The first part of every key, the one ``ticktick-auth`` uses."""

COMMAND_TIMEOUT = 5.0
"""Seconds for connecting, and for each command's whole exchange, by default."""

LOCK_TTL = 30.0
"""Seconds after which the lock of a holder that died is free again, by default."""

MAX_POLL_INTERVAL = 0.25
"""The longest pause between tries of a busy lock (the pause doubles from 20 ms)."""

_AnyBase: Any = object
"""The base of a mixin for redis-py's classes, which are imported only when used."""

# Delete the key only if it still holds this owner's value (or this access token).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_DISCARD = """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local ok, token = pcall(cjson.decode, value)
if ok and type(token) == 'table' and token['access_token'] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class _CommandDeadline(_AnyBase):  # type: ignore[misc]  # mixed into redis-py's classes
    """A redis-py connection on which each command's whole exchange has one `Deadline`.

    The deadline is armed when a command is sent and cancelled when its reply has
    been read; a command sent within another (redis-py's health check) shares it.
    When it passes, the socket is shut down and the read ends with redis-py's
    ``TimeoutError``.
    """

    _ticktick_seconds: float = COMMAND_TIMEOUT
    _ticktick_deadline: Deadline | None = None
    _ticktick_depth = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._sock:
            self.connect()  # its handshake commands get deadlines of their own
        if self._ticktick_depth == 0:
            self._ticktick_stop()
            self._ticktick_deadline = Deadline(self._ticktick_seconds, self._sock)
        self._ticktick_depth += 1
        deadline = self._ticktick_deadline
        try:
            super().send_packed_command(command, check_health)
        except Exception:
            self._ticktick_stop()
            if deadline is not None and deadline.expired:
                raise self._ticktick_late() from None
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        deadline = self._ticktick_deadline
        try:
            return super().read_response(*args, **kwargs)
        except Exception:
            self._ticktick_stop()
            if deadline is not None and deadline.expired:
                raise self._ticktick_late() from None
            raise
        finally:
            self._ticktick_depth = max(0, self._ticktick_depth - 1)
            if self._ticktick_depth == 0:
                self._ticktick_stop()

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        self._ticktick_stop()
        super().disconnect(*args, **kwargs)

    def _ticktick_stop(self) -> None:
        deadline, self._ticktick_deadline = self._ticktick_deadline, None
        self._ticktick_depth = 0
        if deadline is not None:
            deadline.cancel()

    def _ticktick_late(self) -> Exception:
        import redis

        self.disconnect()
        return redis.exceptions.TimeoutError(
            f"the command did not finish within {self._ticktick_seconds:g} s"
        )


def _connection_class(url: str, timeout: float) -> type[Any]:
    """redis-py's connection class for *url*'s scheme, with command deadlines."""
    import redis.connection

    scheme = urlsplit(url).scheme.lower()
    base: type[Any] = {
        "rediss": redis.connection.SSLConnection,
        "unix": redis.connection.UnixDomainSocketConnection,
    }.get(scheme, redis.connection.Connection)
    return type(
        f"Deadline{base.__name__}",
        (_CommandDeadline, base),
        {"_ticktick_seconds": timeout},
    )


def _safe_address(url: str) -> str:
    """The URL without user name or password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisStore(TokenStore):
    """Keeps the token in Redis; its lock spans every machine.

    Args:
        url: The Redis URL (``redis://[:password@]host:port/db``, or ``rediss://``).
        identity: What the token is for; left out, ``OAuth2`` uses a copy with its own.
        prefix: The first part of every key.
        lock_ttl: Seconds after which the lock of a holder that died is free again.
        timeout: Seconds for connecting, and for each command's whole exchange.
        client: A ready ``redis.Redis`` client to use instead of *url*.

    Raises:
        ConfigurationError: The ``redis`` package is not installed, or *url* is malformed.
    """

    def __init__(
        self,
        url: str = DEFAULT_REDIS_URL,
        *,
        identity: TokenIdentity | None = None,
        prefix: str = DEFAULT_PREFIX,
        lock_ttl: float = LOCK_TTL,
        timeout: float = COMMAND_TIMEOUT,
        client: Any = None,
    ) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigurationError(
                "The Redis store needs the redis package: pip install 'ticktick-oauth[redis]'."
            ) from None
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Any failure inside redis-py is a store failure: a hostile or confused server
        # makes it raise more than RedisError (AttributeError for an odd handshake).
        self._errors: tuple[type[BaseException], ...] = (Exception,)
        try:
            self.address = _safe_address(url)
            self._client = client or redis.Redis.from_url(
                url,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                connection_class=_connection_class(url, timeout),
            )
        except ValueError:
            # The error text may quote parts of the URL, such as a password: not chained.
            raise ConfigurationError(
                "The Redis URL is malformed. Use redis://[:password@]host[:port][/db] (or "
                "rediss://, unix://) with a port from 1 to 65535 and a numeric db."
            ) from None
        self.url = url
        self.identity = identity
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self._lock = _RedisLock(self)

    def __repr__(self) -> str:
        return f"RedisStore({self.address!r})"

    @property
    def key(self) -> str:
        """The key holding the token: derived from host, client id and scope."""
        identity = self.identity or TokenIdentity("", None, None)
        host, client_id, scope = identity.require_full("Redis store")
        digest = hashlib.sha256(f"{host}\n{client_id}\n{scope}".encode()).hexdigest()[:24]
        return f"{self.prefix}:{host}:{digest}"

    def describe(self) -> str:
        """The server and key, e.g. ``redis://127.0.0.1:6379/0 ticktick-oauth:...``."""
        return f"{self.address} {self.key}"

    def cli_options(self) -> list[str] | None:
        """``--store redis --redis-url URL`` (never a password).

        ``None`` for a store with another ``prefix``: ``ticktick-auth`` cannot select it.
        """
        if self.prefix != DEFAULT_PREFIX:
            return None
        return ["--store", "redis", "--redis-url", self.address]

    def _fail(self, doing: str, exc: BaseException) -> NoReturn:
        raise TokenCacheError(
            f"Redis at {self.address} could not {doing} ({type(exc).__name__}). Check that "
            "the server runs and that --redis-url / TICKTICK_REDIS_URL points to it. No other "
            "store was used."
        ) from None

    # -- the token -------------------------------------------------------------------

    def read(self) -> TokenDict | None:
        """The token in Redis, or ``None``; an unreadable value is renamed aside."""
        key = self.key
        try:
            raw = self._client.get(key)
        except self._errors as exc:
            self._fail("be read", exc)
        if raw is None:
            return None
        token, problem = decode_token(raw if isinstance(raw, bytes) else str(raw).encode())
        if token is None:
            aside = f"{key}:corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
            try:
                self._client.renamenx(key, aside)
            except self._errors as exc:
                self._fail("set aside an unreadable token", exc)
            logger().warning(
                "The token in Redis (%s) was unusable (%s); it was renamed to %s.",
                self.address,
                problem,
                aside,
            )
            return None
        return check_identity(token, self.identity, self.describe())

    def write(self, token: Mapping[str, Any]) -> None:
        """Store *token* with one ``SET``, expiring with the token."""
        expire_time = expire_time_of(token)
        ttl = None if expire_time is None else max(1, int(expire_time - time.time()))
        key = self.key  # outside the try: a store with no identity is not a Redis failure
        try:
            self._client.set(key, encode_token(token, self.identity), ex=ttl)
        except self._errors as exc:
            self._fail("store the token", exc)

    def delete(self) -> bool:
        """Remove the token; return whether there was one."""
        key = self.key
        try:
            return bool(self._client.delete(key))
        except self._errors as exc:
            self._fail("delete the token", exc)

    def discard(self, access_token: str) -> bool:
        """Remove the token if it is still *access_token* (one atomic script)."""
        key = self.key
        try:
            return bool(self._client.eval(_DISCARD, 1, key, access_token))
        except self._errors as exc:
            self._fail("discard the refused token", exc)

    # -- the lock --------------------------------------------------------------------

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """The distributed lock (see the module's notes); the holding thread may re-enter it."""
        return self._lock.hold(timeout)


class _RedisLock(Lock):
    """A `RedisStore`'s lock: a key set with ``SET NX PX``, renewed while held.

    The key's value is a random owner token followed by the holder's name
    (``process 1234 on host``), for the messages of those who wait.
    """

    max_interval = MAX_POLL_INTERVAL

    def __init__(self, store: RedisStore) -> None:
        super().__init__()
        self.store = store
        self._held: tuple[str, str, threading.Event, threading.Thread] | None = None

    @property
    def key(self) -> str:
        return f"{self.store.key}:lock"

    @property
    def name(self) -> str:
        return f"the token lock {self.key} in Redis at {self.store.address}"

    @property
    def advice(self) -> str:
        return f" If that worker died, the lock frees itself within {self.store.lock_ttl:g} s."

    def try_acquire(self, wait: float) -> bool:
        store, key = self.store, self.key
        owner = f"{secrets.token_hex(16)} process {os.getpid()} on {socket.gethostname()}"
        ttl_ms = max(1, int(store.lock_ttl * 1000))
        try:
            if not store._client.set(key, owner, nx=True, px=ttl_ms):
                return False
        except store._errors as exc:
            store._fail("take the lock", exc)
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(key, owner, ttl_ms, stop), daemon=True)
        renewer.start()
        self._held = (key, owner, stop, renewer)
        return True

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        key, owner, stop, renewer = held
        stop.set()
        renewer.join(timeout=COMMAND_TIMEOUT)  # a renewal in flight ends by then
        try:
            self.store._client.eval(_RELEASE, 1, key, owner)
        except self.store._errors as exc:
            self.store._fail("release the lock", exc)

    def holder(self) -> str:
        """Which worker holds the lock, as its owner value says."""
        try:
            value = self.store._client.get(self.key)
        except self.store._errors:
            return "another worker"
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        _, _, holder = text.partition(" ")
        return holder or "another worker"

    def _renew(self, key: str, owner: str, ttl_ms: int, stop: threading.Event) -> None:
        """Keep the lock while its holder lives; stop quietly if Redis goes away."""
        client, errors = self.store._client, self.store._errors
        while not stop.wait(ttl_ms / 3000):
            try:
                if not client.eval(_RENEW, 1, key, owner, ttl_ms):
                    return
            except errors:
                return
