"""The commands that need no network and never prompt: token, status, export, logout.

(``logout --revoke`` does both, in `ticktick.cli.revoke`.)
"""

from __future__ import annotations

import os
import sys
import time

from .._defaults import DEFAULT_SCOPE
from ..endpoints import resolve_host
from ..errors import ConfigurationError
from ..resolution import Resolution, find_stored_token, where
from ..stores import EnvSource, FileStore, TokenIdentity
from ..token import (
    DEFAULT_EXPIRY_MARGIN,
    MAX_TIME,
    expire_time_of,
    is_api_token,
    is_expired,
    readable_time,
)
from .output import (
    DEFAULT_ENV_KEY,
    EXIT_EXPIRING,
    EXIT_FAILURE,
    EXIT_OK,
    PROG,
    Failure,
    _format,
    _plain,
    _show,
)

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from ..stores import TokenStore
    from ..token import TokenDict
    from .output import Options

# -- finding a token without network ----------------------------------------------------


def _recorded_host(args: Options) -> str | None:
    """The host recorded with the token that ``login`` stored in ``--cache-path``, if any.

    The store that read it is kept (``args.file_store``): `_store` uses it, so that the
    file is read once for the host and the token alike.
    """
    if not args.cache_path:
        return None
    args.file_store = FileStore(args.cache_path)
    identity = args.file_store.recorded_identity()
    return None if identity is None else identity.host


def _store(args: Options, client_id: str | None = None) -> TokenStore:
    """The store chosen by ``--store`` (the file by default), for this host, app and scope."""
    host = resolve_host(args.host).host
    client = client_id or args.client_id or None
    if getattr(args, "api_token", False):  # `token`'s quick path has no --api-token
        identity = TokenIdentity.api_token(host)
    elif args.store == "file":
        identity = TokenIdentity(host, client, args.scope)
    else:
        identity = TokenIdentity(host, client, args.scope or DEFAULT_SCOPE)
    if args.store == "file":
        store: FileStore | None = getattr(args, "file_store", None)
        if store is None or store.path != args.cache_path:
            return FileStore(args.cache_path, identity=identity)
        store.identity = identity  # the store that read the recorded host: no second read
        return store
    namespace = None
    if getattr(args, "profile", None) is not None:
        from ..profiles import store_namespace

        namespace = store_namespace(args.profile)  # two accounts of one app stay apart
    if args.store == "keyring":
        from ..stores.keyring import SERVICE, KeyringStore

        return KeyringStore(identity=identity, service=namespace or SERVICE)
    if args.store == "redis":
        from ..stores.redis import DEFAULT_PREFIX, RedisStore

        return RedisStore(args.redis_url, identity=identity, prefix=namespace or DEFAULT_PREFIX)
    raise ConfigurationError(f"Unknown store {args.store!r}")  # pragma: no cover - checked


def _find(args: Options) -> Resolution:
    """The token `OAuth2` would resolve without signing on: the variable, then the store."""
    return find_stored_token(args.env_key or None, _store(args))


def _command(args: Options, command: str) -> str:
    """``ticktick-auth COMMAND`` with the options that select this host, app, scope and store."""
    import shlex

    if getattr(args, "profile", None) is not None:  # the profile names all the rest
        return shlex.join([PROG, command, "--profile", args.profile])
    api_token = getattr(args, "api_token", False)  # `token`'s quick path has no such flag
    parts = [PROG, command, *(["--api-token"] if api_token else [])]
    if args.client_id and not api_token:
        parts += ["--client-id", args.client_id]
    parts += ["--host", resolve_host(args.host).host]  # always: see below
    if args.scope and not api_token:
        parts += ["--scope", args.scope]
    if args.store != "file":
        parts += ["--store", args.store]
    else:
        parts += ["--cache-path", os.path.abspath(args.cache_path)]
    # --host and the store are named even when they are the defaults, so that the
    # TICKTICK_* variables where the command is run cannot send it elsewhere.
    return shlex.join(parts)


def _valid_token(args: Options) -> tuple[TokenDict, str]:
    """The token, or a `Failure` saying why there is none."""
    found = _find(args)
    if found.token is not None and found.source is not None:
        return found.token, where(found.source)
    if found.expired:
        why = found.reason()
    else:
        env = f"{args.env_key} or " if args.env_key else ""
        why = f"No token found in {env}{where(_store(args))} for {resolve_host(args.host).host}"
    raise Failure(f"{why}. Run '{_command(args, 'login')}' to get one.")


def _days_left(token: TokenDict) -> float | None:
    expire_time = expire_time_of(token)
    return None if expire_time is None else (expire_time - time.time()) / 86400


def _cmd_token(args: Options) -> int:
    token, _ = _valid_token(args)
    _show(token["access_token"])
    return EXIT_OK


def _cmd_status(args: Options) -> int:
    if getattr(args, "all", False):
        from .profile import _cmd_status_all

        return _cmd_status_all(args)
    found = _find(args)
    if found.token is not None and found.source is not None:
        token, source = found.token, found.source
        skipped = found.expired
    elif found.expired:
        source, token = found.expired[-1]  # the one `login` renews last in the order
        skipped = found.expired[:-1]
    else:
        where_ = where(_store(args))
        _show(f"No token for {resolve_host(args.host).host} in ", end="")
        _show(f"{args.env_key} or {where_}." if args.env_key else f"{where_}.")
        _show(f"Run '{_command(args, 'login')}' to get one.")
        return EXIT_FAILURE
    days = _days_left(token)
    expire_time = expire_time_of(token)
    _show(f"source:   {_plain(where(source))}")
    for other, old in skipped:
        old_time = expire_time_of(old)
        when = readable_time(old_time) if old_time is not None else "an unknown time"
        _show(f"skipped:  {_plain(where(other))} (expired on {when})")
    _show(f"store:    {'environment' if isinstance(source, EnvSource) else args.store}")
    _show(f"host:     {_plain(resolve_host(args.host).host)}")
    if is_api_token(token):
        checked = token.get("checked_at")
        when = (
            readable_time(checked)
            if isinstance(checked, int) and 0 < checked <= MAX_TIME
            else "never"
        )
        _show(f"token:    personal API token, expiry unknown, last checked {when}")
        _show("status:   usable until TickTick refuses it (revoked); its lifetime is not published")
        return EXIT_OK
    if args.client_id:
        _show(f"client:   {_plain(args.client_id)}")
    _show(f"scope:    {_plain(token.get('scope', 'unknown'))}")
    if expire_time is None or days is None:
        _show("expires:  unknown (the token has no expire_time)")
        return EXIT_OK
    _show(f"expires:  {readable_time(expire_time)} ({days:.1f} days left)")
    if is_expired(token, DEFAULT_EXPIRY_MARGIN):
        _show(f"status:   EXPIRED. Run '{_command(args, 'login')}'.")
        return EXIT_FAILURE
    if args.min_days is not None and days < args.min_days:
        _show(
            f"status:   fewer than {args.min_days:g} days left. "
            f"Run '{_command(args, 'login')}' to renew."
        )
        return EXIT_EXPIRING
    _show("status:   valid")
    return EXIT_OK


def _export_api_token(token: TokenDict, source: str, fmt: str) -> int:
    """``export`` of a personal API token: the value of ``TICKTICK_API_TOKEN``."""
    from ..apitoken import API_TOKEN_ENV

    _show(
        f"# From {source}: a personal API token, expiry unknown. This is a secret: store it "
        f"as a masked CI variable ({API_TOKEN_ENV}, read by ApiToken.from_env()).",
        file=sys.stderr,
    )
    access_token = token["access_token"]
    if fmt == "json":
        _show(_format(token, fmt, API_TOKEN_ENV))
    elif fmt == "dotenv":
        _show(f"{API_TOKEN_ENV}={access_token}")  # a bearer token needs no quotes
    else:
        _show(access_token)
    return EXIT_OK


def _cmd_export(args: Options) -> int:
    token, source = _valid_token(args)
    if is_api_token(token):
        return _export_api_token(token, source, args.format)
    days = _days_left(token)
    until = f", valid {days:.0f} more days" if days is not None else ""
    _show(
        f"# From {source}{until}. This is a secret: store it as a masked CI variable "
        f"({args.env_key or DEFAULT_ENV_KEY}).",
        file=sys.stderr,
    )
    _show(_format(token, args.format, args.env_key or DEFAULT_ENV_KEY))
    return EXIT_OK


def _remove(store: TokenStore) -> None:
    """Remove whatever token *store* holds, and say what was done."""
    if store.delete():
        _show(f"Removed the cached token ({where(store)}).")
    else:
        _show(f"No cached token in {where(store)}.")


def _cmd_logout(args: Options) -> int:
    store = _store(args)
    if getattr(args, "revoke", False):
        from .revoke import _revoke_stored

        revoked = _revoke_stored(args, store)  # raises, keeping the token, when it failed
    else:
        revoked = None
    try:
        if revoked is None:
            _remove(store)
        elif store.discard(revoked):  # only the token revoked, never one stored meanwhile
            _show(f"Removed the cached token ({where(store)}).")
        elif store.read() is not None:
            _show(f"A new token was stored in {where(store)} meanwhile: it is kept.")
        else:
            _show(f"No cached token in {where(store)} any more.")
    finally:
        if args.store == "file" and args.cache_path:
            from ..stores.locks import file_lock

            # The cache file's sidecar lock, made by the deletion or an earlier write:
            # gone with the token, or with a refused path (a FIFO, a folder), unless
            # another process holds it.
            file_lock(args.cache_path + ".lock").remove_if_free()
    return EXIT_OK
