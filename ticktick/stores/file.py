"""`FileStore`: the token cache file (``.token-oauth``), ticktick-py's ``CacheHandler``.

The file store
--------------

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
  `os.replace`; readers see the old token or the new one, never a mix. A
  missing parent folder is created with mode 0700.
* **One writer at a time.** Writes happen under an exclusive lock on a sidecar file
  (``.token-oauth.lock``) shared by every process and thread. Its holder writes its
  process id there; a process that waits longer than a second says (a logged
  warning) which process it waits for, and for how long.
* **Nothing is lost.** A corrupt file, or one holding another app's or region's
  token, is renamed aside (``.token-oauth.corrupt-<time>`` or ``.foreign-<time>``)
  with a warning, never overwritten.
* **No borrowed paths.** One rule opens every file (`open_checked`): the cache and
  its lock must be regular files of your own, so a FIFO, a socket, a device, or a
  file of another user (who could have planted a token of their own account) is a
  ``TokenCacheError`` at once, and nothing blocks on ``open()``. A symbolic link
  owned by another user is never followed; at the cache path a link of your own is
  read through, and replaced by a regular file at the next write. The lock sidecar
  is written in place, so it must be ours alone: a symbolic link there (anyone's),
  a hard link (a file with another name), or a file holding anything but a process
  id is refused, never truncated.
* **Temporaries of its own.** A temporary file is ``.NAME.tmp-<12 hex digits>``;
  cleaning up after a writer that died removes exactly those of this cache, never
  those of ``NAME.dida365`` beside it.
* **Read-only folders.** Reading takes no lock. Where nothing can be created in the
  folder (a read-only mount) no lock is taken either, and a write fails saying why.
* **Right token, right app.** A token issued for another host, client id or scope
  is not returned. A file written by ticktick-py (no ``issued_for``) is taken as
  issued for ``ticktick.com``, the only host ticktick-py supports, and used when its
  ``scope`` covers the one asked for.
"""

from __future__ import annotations

import errno
import os
import stat
import time

from .._defaults import LOCK_TIMEOUT, logger
from ..errors import ConfigurationError, TokenCacheError, argument
from ..token import API_TOKEN_KIND
from .base import (
    ISSUED_FOR,
    MAX_CACHE_SIZE,
    TokenIdentity,
    TokenStore,
    check_identity,
    decode_token,
    encode_token,
)
from .disk import (
    foreign_link,
    is_temporary_of,
    make_folder_quietly,
    open_checked,
    read_up_to,
    unlink_quietly,
    write_private_file,
)

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextlib import AbstractContextManager
    from typing import Any

    from ..token import TokenDict
    from .locks import FileLock


DEFAULT_CACHE_PATH = ".token-oauth"
"""ticktick-py's cache file name, in the working folder."""


class _CannotMoveAside(TokenCacheError):
    """An unusable cache file could not be renamed aside (*strerror* says why)."""

    def __init__(self, message: str, strerror: str) -> None:
        super().__init__(message)
        self.strerror = strerror


class FileStore(TokenStore):
    """The token cache file (``.token-oauth``); see the module's notes for its guarantees.

    Also available as ``CacheHandler``, ticktick-py's name, with its methods
    (`get_cached_token`, `write_token_to_cache`).

    Args:
        path: The cache file, ``.token-oauth`` in the working folder by default.
        identity: What the token must have been issued for; ``None`` accepts any token
            and records nothing (ticktick-py's behaviour).
        lock_timeout: Seconds to wait for another process's write to finish.

    Raises:
        ConfigurationError: *path* holds a NUL character, which no file name can.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_CACHE_PATH,
        *,
        identity: TokenIdentity | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.path: str = os.fspath(path)
        """The cache file's path, as given."""
        if "\0" in self.path:
            raise ConfigurationError(
                f"The token cache path {self.path!r} holds a NUL character, which no file "
                f"name can hold. Pass another {argument('cache_path')} (or "
                f"{argument('cache_path', None)} for no cache)."
            )
        self.identity = identity
        self._lock_timeout = lock_timeout
        # The sidecar lock, made on first use: reading a token takes no lock, so
        # `ticktick-auth token` never loads the locks (the fast path:
        # docs/architecture.md).
        self._warned_mode = False
        self._warned_stuck = False
        self._snapshot: tuple[bytes, int] | None = None  # `recorded_identity`'s, for `read`

    def __repr__(self) -> str:
        return f"FileStore({self.path!r})"

    def describe(self) -> str:
        """The file's path."""
        return self.path

    def cli_options(self) -> list[str] | None:
        """``--cache-path`` and the file's absolute path, the default one too.

        A ``TICKTICK_CACHE_PATH`` or ``TICKTICK_STORE`` where the command is run, or
        another working folder, must not send it to another store.
        """
        return ["--cache-path", os.path.abspath(self.path)]

    @property
    def _lock(self) -> FileLock:
        """The sidecar-file lock (``PATH.lock``): the process's one for this file.

        Imported on first use (reading a token takes no lock) and shared by every
        store of the same file (`ticktick.stores.locks.file_lock`).
        """
        from .locks import file_lock

        return file_lock(self.path + ".lock")

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """The sidecar-file lock; the holding thread may re-enter it (writes do).

        Where nothing can be written (a read-only folder, an empty path) there is
        nothing to guard and no lock is taken; a write then fails with the reason.
        """
        if not self.path:
            from .locks import NO_LOCK

            return NO_LOCK
        parent = os.path.dirname(self.path)
        if parent and not os.path.exists(parent):
            # If it cannot be created, neither can the lock file: no lock is taken,
            # and a write says why it fails.
            make_folder_quietly(parent)
        return self._lock.hold(timeout)

    # -- reading ---------------------------------------------------------------------

    def _check_link(self) -> None:
        """Refuse a cache path that is a symbolic link owned by another user."""
        refused = foreign_link(self.path, "the token cache")
        if refused is not None:
            raise refused

    def _read(self) -> tuple[bytes, int] | None:
        """Return the file's bytes (up to the size limit, plus one) and its mode.

        The file is opened by the one rule (`open_checked`): only a regular file of
        your own, never blocking. No lock is taken.
        """
        if not self.path:
            return None
        try:
            fd = open_checked(self.path, os.O_RDONLY, "the token cache")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot read the token cache {self.path}: {exc.strerror}. "
                f"Fix its permissions or pass another {argument('cache_path')}."
            ) from None
        try:
            return read_up_to(fd, MAX_CACHE_SIZE), os.fstat(fd).st_mode
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot read the token cache {self.path}: {exc.strerror}."
            ) from None
        finally:
            os.close(fd)

    def _read_bytes(self) -> bytes | None:
        read = self._read()
        return None if read is None else read[0]

    def recorded_identity(self) -> TokenIdentity | None:
        """The identity the stored token was issued for (its ``issued_for``), or ``None``.

        Only read: no lock, nothing set aside, no warning. A missing, refused, unreadable
        or corrupt file, or one without a full record (ticktick-py's), gives ``None``;
        reading the token itself then says what is wrong. ``ticktick-auth`` uses it to
        find the host of the token that ``login`` stored.

        The file is read once for both: the next `read` of this store takes the token
        from the same read (the same version of the file), without opening it again.
        """
        try:
            read = self._snapshot = self._read()
        except TokenCacheError:
            return None
        token = None if read is None else decode_token(read[0])[0]
        record = None if token is None else token.get(ISSUED_FOR)
        if not isinstance(record, dict):
            return None
        if record.get("kind") == API_TOKEN_KIND and isinstance(record.get("host"), str):
            return TokenIdentity.api_token(record["host"])
        host, client_id, scope = (record.get(name) for name in ("host", "client_id", "scope"))
        if not (isinstance(host, str) and isinstance(client_id, str) and isinstance(scope, str)):
            return None
        return TokenIdentity(host, client_id, scope)

    def _warn_if_shared(self, mode: int) -> None:
        if mode & 0o077 and not self._warned_mode:
            self._warned_mode = True
            logger().warning(
                "The token cache %s can be read by other users (mode %s). It will be rewritten "
                "with mode 0600 at the next write; run 'chmod 600 %s' to fix it now.",
                self.path,
                oct(stat.S_IMODE(mode)),
                self.path,
            )

    def read(self) -> TokenDict | None:
        """Return the cached token, or ``None`` when there is no usable one.

        A missing file returns ``None`` silently. A corrupt file is renamed aside
        with a warning (where it cannot be, as in a read-only folder, it stays and
        counts as no token, with one warning). A token issued for another identity is
        left in place, not returned, and logged.

        Raises:
            TokenCacheError: The path cannot be read (a folder, no permission).
        """
        read, self._snapshot = self._snapshot or self._read(), None
        if read is None:
            return None
        raw, mode = read
        token, problem = decode_token(raw)
        if token is None:
            self._set_aside_if_unchanged(raw, "corrupt", problem or "")
            return None
        token = check_identity(token, self.identity, self.path)
        if token is not None:
            self._warn_if_shared(mode)
        return token

    # -- writing ---------------------------------------------------------------------

    def write(self, token: Mapping[str, Any]) -> None:
        """Store *token* atomically, with mode 0600, under the cross-process lock.

        A file holding another identity's token, or a corrupt one, is renamed aside
        first so that nothing is lost.

        Raises:
            TokenCacheError: The file or its folder cannot be written.
        """
        payload = encode_token(token, self.identity)
        if not self.path:
            raise TokenCacheError(
                "The token cache path is empty, so the token cannot be stored. Pass "
                f"{argument('cache_path')} (or set TICKTICK_CACHE_PATH to) the path of a file, "
                f"or {argument('cache_path', None)} to keep the token in memory only."
            )
        self._check_link()
        self._make_parent()
        with self._lock.hold(self._lock_timeout):
            self._set_aside_unusable()
            self._remove_dead_temporaries()
            self._atomic_write(payload)

    def delete(self) -> bool:
        """Remove the cache file; return whether there was one."""
        return self._remove(lambda raw: True, "the token cache", keep_if_read_only=False)

    def discard(self, access_token: str) -> bool:
        """Remove the cache file if it holds *access_token*; return whether it did.

        Used when the server refused that token: a newer token that another process
        wrote meanwhile is left alone.
        """

        def holds_it(raw: bytes) -> bool:
            token = decode_token(raw)[0]
            return token is not None and token["access_token"] == access_token

        return self._remove(holds_it, "the refused token", keep_if_read_only=True)

    def _remove(
        self, wanted: Callable[[bytes], bool], what: str, *, keep_if_read_only: bool
    ) -> bool:
        """Under the lock, remove the file if *wanted* says so of its bytes.

        With *keep_if_read_only*, a file that cannot be removed (a read-only folder)
        stays, with a warning.
        """
        if not self.path or not os.path.isdir(os.path.dirname(self.path) or "."):
            return False
        with self._lock.hold(self._lock_timeout):
            raw = self._read_bytes()
            if raw is None or not wanted(raw):
                return False
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                return False
            except OSError as exc:
                if keep_if_read_only and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                    logger().warning(
                        "Cannot remove %s from %s (%s); it stays there.",
                        what,
                        self.path,
                        exc.strerror,
                    )
                    return False
                raise TokenCacheError(
                    f"Cannot remove {what} from {self.path}: {exc.strerror}."
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
        token, problem = decode_token(raw)
        if token is None:
            self._rename_aside("corrupt", problem or "")
        elif self.identity is not None:
            mismatch = self.identity.mismatch(token)
            if mismatch is not None:
                self._rename_aside("foreign", mismatch)

    def _remove_dead_temporaries(self) -> None:
        """Remove temporary files of writers that died mid-write. Lock held.

        Every write happens under the lock, so while it is held no temporary file of
        this store belongs to a live writer.
        """
        folder = os.path.dirname(self.path) or "."
        try:
            names = os.listdir(folder)
        except OSError:
            return
        for name in names:
            if is_temporary_of(name, self.path):
                unlink_quietly(os.path.join(folder, name))

    def _set_aside_if_unchanged(self, raw: bytes, kind: str, why: str) -> None:
        """Rename the file aside if it still holds *raw* (another process may have fixed it).

        This is a read: where the file cannot be moved (a read-only folder) it stays,
        counted as no token, with one warning saying why; only a write fails on it.
        """
        with self._lock.hold(self._lock_timeout):
            if self._read_bytes() != raw:
                return
            try:
                self._rename_aside(kind, why)
            except _CannotMoveAside as exc:
                if not self._warned_stuck:
                    self._warned_stuck = True
                    logger().warning(
                        "The token cache %s is unusable (%s) and could not be moved aside (%s); "
                        "it is left in place and counts as no token. Move or delete it by hand.",
                        self.path,
                        why,
                        exc.strerror,
                    )

    def _rename_aside(self, kind: str, why: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = f"{self.path}.{kind}-{stamp}-{os.urandom(3).hex()}"
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _CannotMoveAside(
                f"The token cache {self.path} is unusable ({why}) and cannot be moved aside: "
                f"{exc.strerror}. Move or delete it by hand.",
                exc.strerror or type(exc).__name__,
            ) from None
        logger().warning(
            "The token cache %s was unusable (%s); it was moved to %s and a new token is needed.",
            self.path,
            why,
            os.path.basename(aside),
        )

    def _atomic_write(self, payload: bytes) -> None:
        write_private_file(self.path, payload, what="the token cache")


CacheHandler = FileStore
"""ticktick-py's name for the file store."""
