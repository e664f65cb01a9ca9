"""Locks: the one primitive every store's "only one authorizes" section uses.

A lock is held with ``with lock.hold(timeout):``; waiting ends at *timeout* with a
`TokenCacheError` that says what was waited for. `FileLock` is shared by every
process and thread (a sidecar file); `ThreadLock` by the threads of one process;
`NO_LOCK` guards nothing (read-only sources).
"""

from __future__ import annotations

import errno
import os
import sys
import time
from _thread import get_ident

from .._log import logger
from ..errors import TokenCacheError
from .disk import open_checked

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from typing import Any


_MAX_LOCK_RECORD = 24  # a lock sidecar's content: a process id and a newline


class FileLock:
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
    """One holding of a `FileLock` (a class, not contextlib, for start-up time)."""

    __slots__ = ("fd", "lock", "outer", "timeout")

    def __init__(self, lock: FileLock, timeout: float) -> None:
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
            if not announced and waited >= FileLock._ANNOUNCE_AFTER:
                announced = True
                logger().warning(
                    "Waiting up to %g s for %s, which holds the lock %s (it may be signing "
                    "on; this process then uses its token).",
                    timeout,
                    _holder(fd),
                    path,
                )
            time.sleep(FileLock._POLL)
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
        logger().debug("No lock: nothing can be written in the folder of %s.", path)
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


class ThreadLock:
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


class _NoLock:
    """Guards nothing: for sources that are never written."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


NO_LOCK = _NoLock()
"""The lock of a store that is never written: holding it does nothing."""
