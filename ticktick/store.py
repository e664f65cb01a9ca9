"""The token cache file (``.token-oauth``).

The file holds one JSON object in ticktick-py's shape, so files that ticktick-py
wrote load unchanged, plus an ``issued_for`` object recording the host, client id
and scope the token was issued for::

    {"access_token": "...", "token_type": "bearer", "expires_in": 15551999,
     "scope": "tasks:read tasks:write", "expire_time": 1779000000,
     "readable_expire_time": "...",
     "issued_for": {"host": "ticktick.com", "client_id": "AbC", "scope": "tasks:read tasks:write"}}

Guarantees:

* **Private from the start.** The file is written to a temporary file created with
  mode 0600 in the same folder, flushed to disk, then moved over the old one with
  :func:`os.replace`; readers see the old token or the new one, never a mix. A
  missing parent folder is created with mode 0700.
* **One writer at a time.** Writes happen under an exclusive lock on a sidecar file
  (``.token-oauth.lock``) shared by every process and thread.
* **Nothing is lost.** A corrupt file, or one holding another app's or region's
  token, is renamed aside (``.token-oauth.corrupt-<time>`` or ``.foreign-<time>``)
  with a warning, never overwritten.
* **Right token, right app.** A token issued for another host, client id or scope
  is not returned. A file written by ticktick-py (no ``issued_for``) is taken as
  issued for ``ticktick.com``, the only host ticktick-py supports, and used when its
  ``scope`` covers the one asked for.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import time

from .errors import TokenCacheError
from .token import TokenDict, token_problem, validate_token_dict

# Modules used only on rarer paths (logging, tempfile) are imported where they are
# needed; paths are plain strings (os.path, not pathlib) and no dataclass is used:
# `ticktick-auth token` must start fast.
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping
    from typing import Any

__all__ = ["DEFAULT_CACHE_PATH", "CacheHandler", "TokenIdentity"]


def _logger() -> logging.Logger:
    import logging

    return logging.getLogger("ticktick")


DEFAULT_CACHE_PATH = ".token-oauth"
LEGACY_HOST = "ticktick.com"
MAX_CACHE_SIZE = 1024 * 1024
_ISSUED_FOR = "issued_for"


def normalize_scope(scope: str) -> str:
    """Return *scope* with its words sorted and de-duplicated."""
    return " ".join(sorted(set(scope.split())))


class TokenIdentity:
    """What a token was issued for: the host, the app (client id) and the scope.

    ``None`` for the client id or the scope matches any (for readers that do not
    know them, such as ``ticktick-auth token``); a writer must know all three.
    """

    __slots__ = ("client_id", "host", "scope")

    host: str
    client_id: str | None
    scope: str | None

    def __init__(self, host: str, client_id: str | None, scope: str | None) -> None:
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "scope", None if scope is None else normalize_scope(scope))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TokenIdentity is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenIdentity) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.host, self.client_id, self.scope))

    def __repr__(self) -> str:
        return f"TokenIdentity({self.host!r}, {self.client_id!r}, {self.scope!r})"

    def as_dict(self) -> dict[str, str | None]:
        """The ``issued_for`` object stored beside the token."""
        return {"host": self.host, "client_id": self.client_id, "scope": self.scope}

    def mismatch(self, stored: Mapping[str, Any]) -> str | None:
        """Say why a stored token does not belong to this identity, or ``None`` if it does."""
        issued_for = stored.get(_ISSUED_FOR)
        if issued_for is None:  # written by ticktick-py
            if self.host != LEGACY_HOST:
                return f"it has no host recorded, so it is taken as issued for {LEGACY_HOST}"
            granted = stored.get("scope")
            if (
                self.scope is not None
                and isinstance(granted, str)
                and not set(self.scope.split()) <= set(granted.split())
            ):
                return f"its scope {granted!r} does not cover {self.scope!r}"
            return None
        if not isinstance(issued_for, dict):
            return "its 'issued_for' field is not an object"
        for field, wanted in self.as_dict().items():
            if wanted is None:
                continue
            have = issued_for.get(field)
            if field == "scope" and isinstance(have, str):
                have = normalize_scope(have)
            if have != wanted:
                return f"it was issued for {field} {have!r}, not {wanted!r}"
        return None


class _FileLock:
    """An exclusive, cross-process lock on a sidecar file, waited for with a timeout."""

    _POLL = 0.02

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    def hold(self) -> _HeldLock:
        """A context manager that holds the lock (each use has its own file descriptor)."""
        return _HeldLock(self)


class _HeldLock:
    """One holding of a :class:`_FileLock` (a class, not contextlib, for start-up time)."""

    __slots__ = ("fd", "lock")

    def __init__(self, lock: _FileLock) -> None:
        self.lock = lock
        self.fd = -1

    def __enter__(self) -> None:
        path, timeout = self.lock.path, self.lock.timeout
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot open the lock file {path}: {exc.strerror}. "
                "Check that its folder exists and is writable."
            ) from None
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise TokenCacheError(
                    f"Waited {timeout:g} s for the lock {path}, held by another "
                    "process. If no other process is using this cache, that process may be "
                    "stuck: stop it and try again."
                )
            time.sleep(_FileLock._POLL)
        self.fd = fd

    def __exit__(self, *exc_info: object) -> None:
        try:
            _unlock(self.fd)
        finally:
            os.close(self.fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class CacheHandler:
    """Reads and writes the token cache file.

    Keeps ticktick-py's ``CacheHandler`` methods (:meth:`get_cached_token`,
    :meth:`write_token_to_cache`) with safe storage underneath.

    Args:
        path: The cache file, ``.token-oauth`` in the working folder by default.
        identity: What the token must have been issued for; ``None`` accepts any token
            and records nothing (ticktick-py's behaviour).
        lock_timeout: Seconds to wait for another process's write to finish.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_CACHE_PATH,
        *,
        identity: TokenIdentity | None = None,
        lock_timeout: float = 10.0,
    ) -> None:
        self.path: str = os.fspath(path)
        """The cache file's path, as given."""
        self.identity = identity
        self._lock = _FileLock(self.path + ".lock", lock_timeout)
        self._warned_mode = False

    def __repr__(self) -> str:
        return f"CacheHandler({self.path!r})"

    # -- reading ---------------------------------------------------------------------

    def _read(self) -> tuple[bytes, int] | None:
        """Return the file's bytes (up to the size limit, plus one) and its mode."""
        try:
            with open(self.path, "rb") as file:
                return file.read(MAX_CACHE_SIZE + 1), os.fstat(file.fileno()).st_mode
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise TokenCacheError(
                f"The token cache {self.path} is a folder. Pass cache_path= the path of a file."
            ) from None
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot read the token cache {self.path}: {exc.strerror}. "
                "Fix its permissions or pass another cache_path=."
            ) from None

    def _read_bytes(self) -> bytes | None:
        read = self._read()
        return None if read is None else read[0]

    def _warn_if_shared(self, mode: int) -> None:
        if mode & 0o077 and not self._warned_mode:
            self._warned_mode = True
            _logger().warning(
                "The token cache %s can be read by other users (mode %s). It will be rewritten "
                "with mode 0600 at the next write; run 'chmod 600 %s' to fix it now.",
                self.path,
                oct(stat.S_IMODE(mode)),
                self.path,
            )

    def _parse(self, raw: bytes) -> tuple[TokenDict | None, str | None]:
        """Return ``(token, None)`` for a usable file, or ``(None, problem)``."""
        if len(raw) > MAX_CACHE_SIZE:
            return None, f"it is larger than {MAX_CACHE_SIZE} bytes"
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None, "it is not valid JSON (it may be truncated)"
        problem = token_problem(value)
        if problem is not None:
            return None, f"it {problem}"
        return validate_token_dict(value, source="", advice=""), None

    def get_cached_token(self) -> TokenDict | None:
        """Return the cached token, or ``None`` when there is no usable one.

        A missing file returns ``None`` silently. A corrupt file is renamed aside
        with a warning. A token issued for another identity is left in place, not
        returned, and logged.

        Raises:
            TokenCacheError: The path cannot be read (a folder, no permission).
        """
        read = self._read()
        if read is None:
            return None
        raw, mode = read
        token, problem = self._parse(raw)
        if token is None:
            self._set_aside_if_unchanged(raw, "corrupt", problem or "")
            return None
        if self.identity is not None:
            mismatch = self.identity.mismatch(token)
            if mismatch is not None:
                _logger().warning(
                    "Not using the token cached in %s: %s. A new authorization will move it aside; "
                    "give each app and region its own cache_path=.",
                    self.path,
                    mismatch,
                )
                return None
        self._warn_if_shared(mode)
        token.pop(_ISSUED_FOR, None)
        return token

    # -- writing ---------------------------------------------------------------------

    def write_token_to_cache(self, token: Mapping[str, Any]) -> None:
        """Store *token* atomically, with mode 0600, under the cross-process lock.

        A file holding another identity's token, or a corrupt one, is renamed aside
        first so that nothing is lost.

        Raises:
            TokenCacheError: The file or its folder cannot be written.
        """
        data: dict[str, Any] = {key: value for key, value in token.items() if key != _ISSUED_FOR}
        if self.identity is not None:
            if None in self.identity.as_dict().values():
                raise ValueError("a token can only be written with a full TokenIdentity")
            data[_ISSUED_FOR] = self.identity.as_dict()
        payload = json.dumps(data, indent=2).encode("utf-8") + b"\n"
        self._make_parent()
        with self._lock.hold():
            self._set_aside_unusable()
            self._atomic_write(payload)

    def delete(self) -> bool:
        """Remove the cache file; return whether there was one."""
        if not os.path.isdir(os.path.dirname(self.path) or "."):
            return False
        with self._lock.hold():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise TokenCacheError(
                    f"Cannot remove the token cache {self.path}: {exc.strerror}."
                ) from None
            return True

    def discard(self, access_token: str) -> bool:
        """Remove the cache file if it holds *access_token*; return whether it did.

        Used when the server refused that token: a newer token that another process
        wrote meanwhile is left alone.
        """
        if not os.path.isdir(os.path.dirname(self.path) or "."):
            return False
        with self._lock.hold():
            raw = self._read_bytes()
            token = None if raw is None else self._parse(raw)[0]
            if token is None or token["access_token"] != access_token:
                return False
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise TokenCacheError(
                    f"Cannot remove the refused token from {self.path}: {exc.strerror}."
                ) from None
            return True

    def _make_parent(self) -> None:
        parent = os.path.dirname(self.path)
        if parent and not os.path.exists(parent):
            try:
                os.makedirs(parent, mode=0o700, exist_ok=True)
            except OSError as exc:
                raise TokenCacheError(
                    f"Cannot create the folder {parent} for the token cache: {exc.strerror}."
                ) from None

    def _set_aside_unusable(self) -> None:
        """Before a write, rename aside a file this write must not destroy. Lock held."""
        raw = self._read_bytes()
        if raw is None:
            return
        token, problem = self._parse(raw)
        if token is None:
            self._rename_aside("corrupt", problem or "")
        elif self.identity is not None:
            mismatch = self.identity.mismatch(token)
            if mismatch is not None:
                self._rename_aside("foreign", mismatch)

    def _set_aside_if_unchanged(self, raw: bytes, kind: str, why: str) -> None:
        """Rename the file aside if it still holds *raw* (another process may have fixed it)."""
        with self._lock.hold():
            if self._read_bytes() == raw:
                self._rename_aside(kind, why)

    def _rename_aside(self, kind: str, why: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = f"{self.path}.{kind}-{stamp}-{os.urandom(3).hex()}"
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise TokenCacheError(
                f"The token cache {self.path} is unusable ({why}) and cannot be moved aside: "
                f"{exc.strerror}. Move or delete it by hand."
            ) from None
        _logger().warning(
            "The token cache %s was unusable (%s); it was moved to %s and a new token is needed.",
            self.path,
            why,
            os.path.basename(aside),
        )

    def _atomic_write(self, payload: bytes) -> None:
        write_private_file(self.path, payload, what="the token cache")


def write_private_file(path: str | os.PathLike[str], payload: bytes, *, what: str) -> None:
    """Write *payload* to *path* atomically, in a file created with mode 0600.

    The data goes to a temporary file in the same folder, is flushed to disk, and
    replaces *path* in one rename; the old file, if any, is intact until then.

    Raises:
        TokenCacheError: The folder or the file cannot be written (*what* names it).
    """
    import tempfile

    path = os.fspath(path)
    parent = os.path.dirname(path) or "."
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent
        )
    except OSError as exc:
        raise TokenCacheError(
            f"Cannot write {what} in {parent}: {exc.strerror}. "
            "Make the folder writable or choose another path."
        ) from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        try:  # noqa: SIM105 - contextlib.suppress would cost start-up time
            os.unlink(tmp_name)
        except OSError:
            pass
        full = " (the disk is full)" if exc.errno in (errno.ENOSPC, errno.EFBIG) else ""
        raise TokenCacheError(
            f"Cannot write {what} {path}{full}: {exc.strerror}. "
            "The previous file, if any, is unchanged."
        ) from None
    _fsync_dir(parent)


def _fsync_dir(path: str) -> None:
    """Make a rename durable by syncing its folder (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
