"""Token stores: where a token is kept between runs, and who may renew it.

Every store follows one small interface, `TokenStore`: ``read``, ``write``,
``delete``, ``discard`` (drop a refused token, and only that one) and ``lock``, the
section in which exactly one process re-reads the store, asks a person if the token
is still missing, and writes the result, while every other process waits and then
reads that result. ``OAuth2(store=...)`` selects one; ``cache_path=`` selects the file.

* `FileStore` (default, ``.token-oauth``; also ``CacheHandler``): one machine.
* `MemoryStore`: one process (tests, short scripts).
* `EnvSource`: read-only, a variable such as ``ACCESS_TOKEN_DICT``.
* ``KeyringStore`` ([`ticktick.keyring_store`][ticktick.keyring_store]): the system's secret store.
* ``RedisStore`` ([`ticktick.redis_store`][ticktick.redis_store]): many machines.

Every stored token carries an ``issued_for`` record (host, client id, scope) and is
returned only to a client of that identity.

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
import json
import os
import stat
import sys
import time
from _thread import get_ident
from abc import ABC, abstractmethod

from .errors import ConfigurationError, TokenCacheError
from .token import TokenDict, token_problem, validate_token_dict

# Modules used only on rarer paths (logging, tempfile) are imported where they are
# needed; paths are plain strings (os.path, not pathlib) and no dataclass is used:
# `ticktick-auth token` must start fast.
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping
    from contextlib import AbstractContextManager
    from typing import Any

__all__ = [
    "DEFAULT_CACHE_PATH",
    "CacheHandler",
    "EnvSource",
    "FileStore",
    "MemoryStore",
    "TokenIdentity",
    "TokenStore",
]


def _logger() -> logging.Logger:
    import logging

    return logging.getLogger("ticktick")


DEFAULT_CACHE_PATH = ".token-oauth"
LEGACY_HOST = "ticktick.com"
MAX_CACHE_SIZE = 1024 * 1024
_MAX_LOCK_RECORD = 24  # a lock sidecar's content: a process id and a newline
_ISSUED_FOR = "issued_for"


# -- the one rule for opening a file ----------------------------------------------------

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = (
    getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class _CannotMoveAside(TokenCacheError):
    """An unusable cache file could not be renamed aside (*strerror* says why)."""

    def __init__(self, message: str, strerror: str) -> None:
        super().__init__(message)
        self.strerror = strerror


def _owner_name(uid: int) -> str:
    """``uid N (name)``, or ``uid N`` where the name is unknown."""
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):  # pragma: no cover - no pwd, or an unnamed uid
        return f"uid {uid}"


def file_problem(info: os.stat_result, path: str, what: str) -> TokenCacheError | None:
    """Why the file described by *info* must not be used, or ``None`` if it may.

    Only a regular file owned by this user (the effective uid) may be used: a
    folder, a FIFO, a socket or a device is refused, and so is a file of another user,
    whose owner could plant a token of their own account (your app would then write
    your tasks into theirs) or read the one written there.
    """
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return TokenCacheError(f"{what.capitalize()} {path} is a folder. Use the path of a file.")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        return TokenCacheError(
            f"{what.capitalize()} {path} is {kind}, not a regular file; refusing to use it. "
            "Remove it, or choose another path."
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return TokenCacheError(
            f"{what.capitalize()} {path} is owned by another user ({_owner_name(info.st_uid)}); "
            "refusing to use it: its owner could have put their own token there, or read "
            f"yours. Remove it (or, if it is yours, 'chown' it to yourself), or choose a "
            "path of your own."
        )
    return None


def _foreign_link(path: str, what: str) -> TokenCacheError | None:
    """A refusal if *path* is a symbolic link owned by another user, else ``None``."""
    try:
        link = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(link.st_mode) and hasattr(os, "geteuid") and link.st_uid != os.geteuid():
        return TokenCacheError(
            f"{what.capitalize()} {path} is a symbolic link owned by another user "
            f"({_owner_name(link.st_uid)}). Refusing to follow it: its owner decides where your "
            "token would be read from and written to. Remove it, or choose a path of your own."
        )
    return None


def _foreign_folder_link(path: str, what: str) -> TokenCacheError | None:
    """A refusal if a folder on *path* is a symbolic link owned by neither you nor root.

    Another user's link among the folders decides where the file really is, just as
    a link at the file itself does. Root's links (``/var`` on macOS) are trusted. The
    path is taken as given: a relative one starts at the working folder, which
    ``getcwd`` names without links. One ``lstat`` per folder.
    """
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows: no owners to compare
        return None
    trusted = (os.geteuid(), 0)
    folder = os.path.dirname(path)
    while folder:
        try:
            info = os.lstat(folder)
        except OSError:  # absent (to be created) or unreadable: opening says why
            info = None
        if info is not None and stat.S_ISLNK(info.st_mode) and info.st_uid not in trusted:
            return TokenCacheError(
                f"{what.capitalize()} {path} is reached through {folder}, a symbolic link owned "
                f"by another user ({_owner_name(info.st_uid)}). Refusing to follow it: its "
                "owner decides where your token would be read from and written to. Remove it, "
                "or choose a path of your own."
            )
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return None


def open_checked(
    path: str, flags: int, what: str, *, follow_own_link: bool = True, sole_link: bool = False
) -> int:
    """Open *path* by the one rule for every file the client reads or writes.

    * Nothing blocks: ``O_NONBLOCK``, so a FIFO cannot hold ``open()``.
    * A symbolic link is followed only if it is your own (``O_NOFOLLOW`` first), and
      with *follow_own_link* false (the lock sidecar) never; a folder on the way may
      be a link only if it is yours or root's.
    * The opened descriptor must be a regular file owned by you (checked with
      ``fstat``, so nothing can be swapped in between); see `file_problem`. With
      *sole_link*, it must also have no other name (a hard link's ``st_nlink`` > 1):
      what is written to it would change that other file.

    Returns the descriptor (mode 0600 if created).

    Raises:
        TokenCacheError: The path is refused (*what* names it).
        OSError: It cannot be opened (``FileNotFoundError`` when absent).
    """
    flags |= _OPEN_FLAGS
    refused = _foreign_folder_link(path, what)
    if refused is None and not follow_own_link and not _NOFOLLOW:  # pragma: no cover
        refused = _any_link(path, what)  # no O_NOFOLLOW (Windows): ask lstat first
    if refused is not None:
        raise refused
    try:
        try:
            fd = os.open(path, flags | _NOFOLLOW, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EMLINK):  # not a symbolic link
                raise
            refused = _foreign_link(path, what)
            if refused is None and not follow_own_link:
                refused = _any_link(path, what)
            if refused is not None:
                raise refused from None
            fd = os.open(path, flags, 0o600)  # your own link: follow it
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a socket, a folder (for writing)
            try:
                problem = file_problem(os.stat(path), path, what)
            except OSError:  # pragma: no cover - removed meanwhile
                problem = None
            if problem is not None:
                raise problem from None
        raise
    try:
        info = os.fstat(fd)
    except OSError:  # pragma: no cover - fstat of an open descriptor does not fail
        return fd
    problem = file_problem(info, path, what)
    if problem is None and sole_link and info.st_nlink > 1:
        problem = TokenCacheError(
            f"{what.capitalize()} {path} has {info.st_nlink} names (it is a hard link, "
            "shared with another file); refusing to use it, since writing to it would change "
            "that other file. Remove it (a new one is made), or choose another path."
        )
    if problem is not None:
        os.close(fd)
        raise problem
    return fd


def _any_link(path: str, what: str) -> TokenCacheError | None:
    """A refusal if *path* is a symbolic link, whoever owns it, else ``None``."""
    try:
        link = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISLNK(link.st_mode):
        return None
    return TokenCacheError(
        f"{what.capitalize()} {path} is a symbolic link, not a regular file; refusing to "
        "follow it, since writing to it would change the file it points to. Remove the link "
        "(a new file is made there), or choose another path."
    )


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

    def require_full(self, store: str) -> tuple[str, str, str]:
        """``(host, client_id, scope)``, all known, or a clear error naming *store*."""
        if self.client_id is None or self.scope is None:
            raise ConfigurationError(
                f"The {store} needs the client id and scope to find the token "
                "(pass --client-id, or use it through OAuth2)."
            )
        return self.host, self.client_id, self.scope

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
    """An exclusive, cross-process lock on a sidecar file, waited for with a timeout.

    The holder writes its process id into the sidecar, so that a process waiting
    for it can say which process it waits for.
    """

    _POLL = 0.02
    _ANNOUNCE_AFTER = 1.0  # seconds of waiting before saying so (writes take milliseconds)

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.owner: int | None = None  # the thread holding it, for re-entry
        self.depth = 0

    def hold(self, timeout: float | None = None) -> _HeldLock:
        """A context manager that holds the lock; the holding thread may enter again."""
        return _HeldLock(self, self.timeout if timeout is None else timeout)


class _HeldLock:
    """One holding of a `_FileLock` (a class, not contextlib, for start-up time)."""

    __slots__ = ("fd", "lock", "outer", "timeout")

    def __init__(self, lock: _FileLock, timeout: float) -> None:
        self.lock = lock
        self.timeout = timeout
        self.fd = -1
        self.outer = False

    def __enter__(self) -> None:
        lock = self.lock
        if lock.owner == get_ident():  # re-entry by the holding thread
            lock.depth += 1
            return
        fd = _open_lock_file(lock.path)
        if fd >= 0:
            try:
                self._wait(fd)
            except BaseException:
                os.close(fd)
                raise
        self.fd, self.outer = fd, True
        lock.owner, lock.depth = get_ident(), 1

    def _wait(self, fd: int) -> None:
        """Take the lock on *fd*, saying once what it waits for if that takes a while."""
        path, timeout = self.lock.path, self.timeout
        start = time.monotonic()
        announced = False
        while not _try_lock(fd):
            waited = time.monotonic() - start
            if waited >= timeout:
                raise TokenCacheError(
                    f"Waited {timeout:g} s for the lock {path}, held by {_holder(fd)}. If no "
                    "other process is using this cache, that process may be stuck: stop it and "
                    "try again."
                )
            if not announced and waited >= _FileLock._ANNOUNCE_AFTER:
                announced = True
                _logger().warning(
                    "Waiting up to %g s for %s, which holds the lock %s (it may be signing "
                    "on; this process then uses its token).",
                    timeout,
                    _holder(fd),
                    path,
                )
            time.sleep(_FileLock._POLL)
        _note_holder(fd)

    def __exit__(self, *exc_info: object) -> None:
        lock = self.lock
        lock.depth -= 1
        if not self.outer:
            return
        lock.owner = None
        if self.fd < 0:
            return
        try:
            _unlock(self.fd)
        finally:
            os.close(self.fd)


def _open_lock_file(path: str) -> int:
    """The lock sidecar's descriptor, by the one opening rule; -1 where no lock is needed.

    The sidecar is written (its holder's process id), so it must be ours alone: a
    symbolic link is never followed, whoever owns it, a file with another name (a
    hard link) is refused, and so is a file holding anything but a process id,
    which no lock of ours wrote: writing the id would destroy it.

    No lock is needed where nothing can be created in the folder (a read-only mount,
    a folder of another user): no process of ours can write the cache there either,
    and reading needs no lock. An existing sidecar is locked through a read-only
    descriptor in that case (``flock`` needs no write access).
    """
    try:
        fd = open_checked(
            path, os.O_RDWR | os.O_CREAT, "the lock file", follow_own_link=False, sole_link=True
        )
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT):
            raise _lock_error(path, exc) from None
    else:
        if _holds_a_lock_record(fd):
            return fd
        os.close(fd)
        raise TokenCacheError(
            f"The lock file {path} holds something other than a lock's process id; refusing "
            "to use it as a lock, since that would overwrite it. Move it away (a new lock "
            "file is made there), or choose another cache path."
        )
    try:
        return open_checked(
            path, os.O_RDONLY, "the lock file", follow_own_link=False, sole_link=True
        )
    except FileNotFoundError:
        _logger().debug("No lock: nothing can be written in the folder of %s.", path)
        return -1
    except OSError as exc:
        raise _lock_error(path, exc) from None


def _lock_error(path: str, exc: OSError) -> TokenCacheError:
    return TokenCacheError(
        f"Cannot open the lock file {path}: {exc.strerror}. "
        "Check that its folder exists and is writable."
    )


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

    def _note_holder(fd: int, holder: bytes | None = None) -> None:
        return None  # the locked byte cannot be read by a waiter on Windows

    def _holds_a_lock_record(fd: int) -> bool:
        return True  # nothing is written to the sidecar on Windows

    def _holder(fd: int) -> str:
        return "another process"

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        _note_holder(fd, b"")  # no holder any more
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _note_holder(fd: int, holder: bytes | None = None) -> None:
        """Record this process as the holder (skipped on a read-only descriptor)."""
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, b"%d\n" % os.getpid() if holder is None else holder, 0)
        except OSError:
            return

    def _holds_a_lock_record(fd: int) -> bool:
        """Whether the sidecar *fd* is empty or holds a process id, as a lock leaves it.

        A holder writes its id under the lock, and empties the file on release: no
        other content was written by a lock.
        """
        try:
            data = os.pread(fd, _MAX_LOCK_RECORD + 1, 0)
        except OSError:
            return False
        return not data or (len(data) <= _MAX_LOCK_RECORD and data.strip().isdigit())

    def _holder(fd: int) -> str:
        """Which process holds the lock on *fd*, as far as its sidecar says."""
        try:
            pid = int(os.pread(fd, 24, 0))
        except (OSError, ValueError):
            return "another process"
        return f"process {pid}"


class TokenStore(ABC):
    """Where a token is kept: the interface every store follows.

    Attributes:
        identity: What the token must have been issued for. ``OAuth2`` sets it when
            a store is given without one.
        read_only: Whether `write` is refused (the environment).
    """

    identity: TokenIdentity | None = None
    read_only = False

    @abstractmethod
    def read(self) -> TokenDict | None:
        """The stored token for `identity`, or ``None``; unusable data is set aside."""

    @abstractmethod
    def write(self, token: Mapping[str, Any]) -> None:
        """Store *token* (atomically: readers see the old token or the new one)."""

    @abstractmethod
    def delete(self) -> bool:
        """Remove the stored token; return whether there was one."""

    @abstractmethod
    def discard(self, access_token: str) -> bool:
        """Remove the stored token if it is *access_token* (refused by the server)."""

    @abstractmethod
    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """Hold the store's "only one authorizes" lock, waiting at most *timeout* seconds.

        Raises:
            TokenCacheError: The wait timed out or the store cannot be reached.
        """

    @abstractmethod
    def describe(self) -> str:
        """Where the token lives, for messages (never a password)."""

    # ticktick-py's CacheHandler names, so code written for it keeps working.

    def get_cached_token(self) -> TokenDict | None:
        """ticktick-py's name for `read`."""
        return self.read()

    def write_token_to_cache(self, token: Mapping[str, Any]) -> None:
        """ticktick-py's name for `write`."""
        self.write(token)


def encode_token(token: Mapping[str, Any], identity: TokenIdentity | None) -> bytes:
    """The stored form of *token*: JSON with the ``issued_for`` record of *identity*."""
    data: dict[str, Any] = {key: value for key, value in token.items() if key != _ISSUED_FOR}
    if identity is not None:
        if None in identity.as_dict().values():
            raise ValueError("a token can only be written with a full TokenIdentity")
        data[_ISSUED_FOR] = identity.as_dict()
    return json.dumps(data, indent=2).encode("utf-8") + b"\n"


def decode_token(raw: bytes) -> tuple[TokenDict | None, str | None]:
    """Return ``(token, None)`` for a usable stored token, or ``(None, problem)``."""
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


def check_identity(
    token: TokenDict, identity: TokenIdentity | None, where: str
) -> TokenDict | None:
    """*token* without its ``issued_for`` record if it belongs to *identity*, else ``None``."""
    if identity is not None:
        mismatch = identity.mismatch(token)
        if mismatch is not None:
            _logger().warning(
                "Not using the token in %s: %s. A new authorization will move it aside; "
                "give each app and region its own store.",
                where,
                mismatch,
            )
            return None
    token.pop(_ISSUED_FOR, None)
    return token


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
        lock_timeout: float = 10.0,
    ) -> None:
        self.path: str = os.fspath(path)
        """The cache file's path, as given."""
        if "\0" in self.path:
            raise ConfigurationError(
                f"The token cache path {self.path!r} holds a NUL character, which no file "
                "name can hold. Pass another cache_path (or cache_path=None for no cache)."
            )
        self.identity = identity
        self._lock = _FileLock(self.path + ".lock", lock_timeout)
        self._warned_mode = False
        self._warned_stuck = False

    def __repr__(self) -> str:
        return f"FileStore({self.path!r})"

    def describe(self) -> str:
        """The file's path."""
        return self.path

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """The sidecar-file lock; the holding thread may re-enter it (writes do).

        Where nothing can be written (a read-only folder, an empty path) there is
        nothing to guard and no lock is taken; a write then fails with the reason.
        """
        if not self.path:
            return _NoLock()
        parent = os.path.dirname(self.path)
        if parent and not os.path.exists(parent):
            # If it cannot be created, neither can the lock file: no lock is taken,
            # and a write says why it fails.
            _make_folder_quietly(parent)
        return self._lock.hold(timeout)

    # -- reading ---------------------------------------------------------------------

    def _check_link(self) -> None:
        """Refuse a cache path that is a symbolic link owned by another user."""
        refused = _foreign_link(self.path, "the token cache")
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
                "Fix its permissions or pass another cache_path=."
            ) from None
        try:
            mode = os.fstat(fd).st_mode
            chunks = []
            size = 0
            while size <= MAX_CACHE_SIZE:
                chunk = os.read(fd, MAX_CACHE_SIZE + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot read the token cache {self.path}: {exc.strerror}."
            ) from None
        finally:
            os.close(fd)
        return b"".join(chunks), mode

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

    def read(self) -> TokenDict | None:
        """Return the cached token, or ``None`` when there is no usable one.

        A missing file returns ``None`` silently. A corrupt file is renamed aside
        with a warning (where it cannot be, as in a read-only folder, it stays and
        counts as no token, with one warning). A token issued for another identity is
        left in place, not returned, and logged.

        Raises:
            TokenCacheError: The path cannot be read (a folder, no permission).
        """
        read = self._read()
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
                "cache_path= (or set TICKTICK_CACHE_PATH to) the path of a file, or "
                "cache_path=None to keep the token in memory only."
            )
        self._check_link()
        self._make_parent()
        with self._lock.hold():
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
        with self._lock.hold():
            raw = self._read_bytes()
            if raw is None or not wanted(raw):
                return False
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                return False
            except OSError as exc:
                if keep_if_read_only and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                    _logger().warning(
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
                _unlink_quietly(os.path.join(folder, name))

    def _set_aside_if_unchanged(self, raw: bytes, kind: str, why: str) -> None:
        """Rename the file aside if it still holds *raw* (another process may have fixed it).

        This is a read: where the file cannot be moved (a read-only folder) it stays,
        counted as no token, with one warning saying why; only a write fails on it.
        """
        with self._lock.hold():
            if self._read_bytes() != raw:
                return
            try:
                self._rename_aside(kind, why)
            except _CannotMoveAside as exc:
                if not self._warned_stuck:
                    self._warned_stuck = True
                    _logger().warning(
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
        _logger().warning(
            "The token cache %s was unusable (%s); it was moved to %s and a new token is needed.",
            self.path,
            why,
            os.path.basename(aside),
        )

    def _atomic_write(self, payload: bytes) -> None:
        write_private_file(self.path, payload, what="the token cache")


CacheHandler = FileStore
"""ticktick-py's name for the file store."""


class _ThreadLock:
    """A re-entrant, in-process lock waited for with a timeout (a context manager)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.RLock()

    def hold(self, timeout: float, what: str) -> _HeldThreadLock:
        return _HeldThreadLock(self._lock, timeout, what)


class _HeldThreadLock:
    __slots__ = ("lock", "timeout", "what")

    def __init__(self, lock: Any, timeout: float, what: str) -> None:
        self.lock, self.timeout, self.what = lock, timeout, what

    def __enter__(self) -> None:
        if not self.lock.acquire(timeout=max(self.timeout, 0)):
            raise TokenCacheError(
                f"Waited {self.timeout:g} s for the lock of {self.what}, held by another thread."
            )

    def __exit__(self, *exc_info: object) -> None:
        self.lock.release()


class MemoryStore(TokenStore):
    """Keeps the token in this process only: for tests and short scripts.

    One instance can be shared by several ``OAuth2`` clients (and threads) of the
    process; it applies the same identity check and lock as the other stores.
    """

    def __init__(self, *, identity: TokenIdentity | None = None) -> None:
        self.identity = identity
        self._stored: bytes | None = None
        self._lock = _ThreadLock()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def describe(self) -> str:
        """``memory``."""
        return "memory"

    def read(self) -> TokenDict | None:
        """The token kept here, if it belongs to `identity`."""
        stored = self._stored
        if stored is None:
            return None
        token, _ = decode_token(stored)
        return None if token is None else check_identity(token, self.identity, "memory")

    def write(self, token: Mapping[str, Any]) -> None:
        """Keep *token*."""
        self._stored = encode_token(token, self.identity)

    def delete(self) -> bool:
        """Forget the token; return whether there was one."""
        had, self._stored = self._stored is not None, None
        return had

    def discard(self, access_token: str) -> bool:
        """Forget the token if it is *access_token*."""
        with self._lock.hold(10.0, "the memory store"):
            stored = self._stored
            token = None if stored is None else decode_token(stored)[0]
            if token is None or token["access_token"] != access_token:
                return False
            self._stored = None
            return True

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """An in-process lock (threads of this process wait for each other)."""
        return self._lock.hold(timeout, "the memory store")


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


class EnvSource(TokenStore):
    """A read-only source: an environment variable holding the token dict.

    The value is JSON or the Python dict literal ticktick-py users keep in
    ``ACCESS_TOKEN_DICT``. Unset or empty reads as no token; a malformed value raises
    [`TokenFormatError`][ticktick.errors.TokenFormatError] naming the variable (never the value).
    Nothing is ever written to it, and no identity is checked: the variable is
    trusted as configured.
    """

    read_only = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"EnvSource({self.name!r})"

    def describe(self) -> str:
        """``env:NAME``."""
        return f"env:{self.name}"

    def read(self) -> TokenDict | None:
        """The token in the variable, or ``None`` when it is unset or empty."""
        from .token import parse_token_literal

        text = os.environ.get(self.name)
        if text is None or not text.strip():
            return None
        return parse_token_literal(
            text,
            source=f"The environment variable {self.name}",
            advice=(
                f"Set {self.name} to the token dict (JSON, or the Python dict literal "
                "ticktick-py uses) with at least 'access_token' and 'expire_time' "
                f"('ticktick-auth export' prints one), or unset {self.name}."
            ),
        )

    def _refuse(self) -> TokenCacheError:
        return TokenCacheError(
            f"The environment variable {self.name} is read-only: a new token must be put "
            f"there by hand (run 'ticktick-auth export' and update {self.name})."
        )

    def write(self, token: Mapping[str, Any]) -> None:
        """Refused: the environment is read-only."""
        raise self._refuse()

    def delete(self) -> bool:
        """Refused: the environment is read-only."""
        raise self._refuse()

    def discard(self, access_token: str) -> bool:
        """Nothing to do: the variable cannot be changed from here."""
        return False

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """No lock: nothing is written."""
        return _NoLock()


_TMP_MARKER = ".tmp-"
_TMP_RANDOM = 12  # hexadecimal digits


def temporary_name(path: str) -> str:
    """A new name for a temporary file beside *path*: ``.NAME.tmp-<12 hex digits>``."""
    return os.path.join(
        os.path.dirname(path),
        f".{os.path.basename(path)}{_TMP_MARKER}{os.urandom(_TMP_RANDOM // 2).hex()}",
    )


def is_temporary_of(name: str, path: str) -> bool:
    """Whether the file *name* is a temporary file of *path*, exactly.

    Exact: the name is ``.`` + the cache's name + ``.tmp-`` + 12 hex digits and
    nothing else, so the temporaries of ``.token-oauth.dida365`` are never taken
    for those of ``.token-oauth``.
    """
    prefix = f".{os.path.basename(path)}{_TMP_MARKER}"
    rest = name[len(prefix) :]
    return (
        name.startswith(prefix)
        and len(rest) == _TMP_RANDOM
        and all(char in "0123456789abcdef" for char in rest)
    )


def write_private_file(path: str | os.PathLike[str], payload: bytes, *, what: str) -> None:
    """Write *payload* to *path* atomically, in a file created with mode 0600.

    The data goes to a new temporary file in the same folder, is flushed to disk,
    and replaces *path* in one rename; the old file, if any, is intact until then.
    By the one opening rule, an existing *path* must be a regular file of your own
    (or your own symbolic link, which is replaced): a FIFO, a device, a folder, or
    another user's file or link is refused.

    Raises:
        TokenCacheError: The path is refused, or the folder or the file cannot be
            written (*what* names it).
    """
    path = os.fspath(path)
    parent = os.path.dirname(path) or "."
    _check_destination(path, what)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _OPEN_FLAGS
    while True:
        tmp_name = temporary_name(path)
        try:
            fd = os.open(tmp_name, flags, 0o600)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
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
        _unlink_quietly(tmp_name)
        full = " (the disk is full)" if exc.errno in (errno.ENOSPC, errno.EFBIG) else ""
        raise TokenCacheError(
            f"Cannot write {what} {path}{full}: {exc.strerror}. "
            "The previous file, if any, is unchanged."
        ) from None
    _fsync_dir(parent)


def _check_destination(path: str, what: str) -> None:
    """Refuse to replace anything but a regular file or a symbolic link of your own.

    A path through another user's linked folder is refused too.
    """
    refused = _foreign_folder_link(path, what)
    if refused is not None:
        raise refused
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        refused = _foreign_link(path, what)
    else:
        refused = file_problem(info, path, what)
    if refused is not None:
        raise refused


def _make_folder_quietly(path: str) -> None:
    """Create the folder *path* (mode 0700) if possible."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return


def _unlink_quietly(path: str) -> None:
    """Remove *path* if possible (contextlib.suppress would cost start-up time)."""
    try:
        os.unlink(path)
    except OSError:
        return


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
