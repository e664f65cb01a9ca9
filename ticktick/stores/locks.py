"""Locks: the one primitive every store's "only one authorizes" section uses.

A lock is held with ``with lock.hold(timeout):``. Every kind behaves alike, because
`Lock` does all of it but the taking and the releasing:

* the thread that holds a lock may enter it again (a write under the section's lock);
* a waiter tries again and again (`ticktick._deadline.poll`) until *timeout*;
* after `ANNOUNCE_AFTER` seconds it says whom it waits for: on a terminal in one line
  updated in place with the time left (`ticktick._deadline.WaitLine`), elsewhere once,
  as a logged warning;
* at *timeout* it raises `TokenCacheError` saying what it waited for, held by whom.

The kinds: `FileLock` is shared by every process and thread (a sidecar file);
`ThreadLock` by the threads of one process; ``RedisStore``'s lock by every machine
(``ticktick.stores.redis``). `NO_LOCK` guards nothing (read-only sources).

Reading a token takes no lock, so this module is off the fast path
(docs/architecture.md): a `FileStore` makes its `FileLock` on first use.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from _thread import allocate_lock, get_ident
from collections.abc import Iterator
from contextlib import AbstractContextManager

from .._deadline import WaitLine, poll
from .._defaults import LOCK_TIMEOUT, logger
from ..errors import TokenCacheError
from .disk import open_checked

ANNOUNCE_AFTER = 1.0
"""Seconds of waiting for a lock before saying whom it waits for (writes take milliseconds)."""

POLL_INTERVAL = 0.02
"""Seconds between tries of a lock that cannot be waited on (a file lock, Redis)."""

_MAX_LOCK_RECORD = 24  # a lock sidecar's content: a process id and a newline


class Lock:
    """An exclusive lock, re-entrant per thread, waited for with a timeout.

    A kind of lock supplies `try_acquire`, `release`, `holder` and `name` (and
    `advice`, `interval`, `max_interval` if its own); `hold` does the rest. The
    per-thread re-entry is kept here, so a kind only ever sees the outermost holding.

    Args:
        timeout: Seconds `hold` waits when it is given none.
    """

    interval = POLL_INTERVAL
    """Seconds between tries (see `ticktick._deadline.poll`)."""
    max_interval: float | None = None
    """If set, the interval doubles after each try up to this."""

    def __init__(self, timeout: float = LOCK_TIMEOUT) -> None:
        self.timeout = timeout
        self.owner: int | None = None  # the thread holding it, for re-entry
        self.depth = 0

    @contextlib.contextmanager
    def hold(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock (``with lock.hold():``), waiting at most *timeout* seconds.

        The holding thread may enter again; the lock is released when its outermost
        holding ends.

        Raises:
            TokenCacheError: The wait timed out (the message names the holder), or the
                lock cannot be reached.
        """
        if self.owner == get_ident():  # re-entry by the holding thread
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        if not self.try_acquire(0.0):
            self._wait(self.timeout if timeout is None else timeout)
        self.owner, self.depth = get_ident(), 1
        try:
            yield
        finally:
            self.owner, self.depth = None, 0
            self.release()

    # -- what each kind supplies ---------------------------------------------------

    @property
    def name(self) -> str:
        """The lock, for messages: ``the lock /path/.token-oauth.lock``."""
        raise NotImplementedError

    def try_acquire(self, wait: float) -> bool:
        """Take the lock if it is free; a kind that can block may wait *wait* seconds."""
        raise NotImplementedError

    def release(self) -> None:
        """Let go of the lock, taken by `try_acquire` in this thread."""
        raise NotImplementedError

    def holder(self) -> str:
        """Who holds the lock, for messages: ``process 1234``, ``another thread``, ..."""
        raise NotImplementedError

    @property
    def advice(self) -> str:
        """A sentence for the timeout error: what to do about a holder that never lets go."""
        return ""

    # -- the waiting, the same for every kind ----------------------------------------

    def _wait(self, timeout: float) -> None:
        """Take the lock within *timeout* seconds, saying whom it waits for.

        On a terminal, a line updated in place with the time left (the record is then
        logged at INFO, not to be printed over it); elsewhere a logged warning.
        """
        line = WaitLine(timeout)

        def announce() -> None:
            import logging

            holder = self.holder()
            logger().log(
                logging.INFO if line.on_terminal else logging.WARNING,
                "Waiting up to %g s for %s, which holds %s (it may be signing on; this "
                "process then uses its token).",
                timeout,
                holder,
                self.name,
            )
            line.start(f"Waiting for {holder}, which holds {self.name} (it may be signing on)")

        def ready(wait: float) -> bool:
            line.update()
            return self.try_acquire(wait)

        try:
            taken = poll(
                ready,
                timeout,
                interval=self.interval,
                max_interval=self.max_interval,
                slow_after=ANNOUNCE_AFTER,
                on_slow=announce,
            )
        finally:
            line.end()
        if not taken:
            raise TokenCacheError(
                f"Waited {timeout:g} s for {self.name}, held by {self.holder()}.{self.advice}"
            )


class FileLock(Lock):
    """An exclusive, cross-process lock on a sidecar file, waited for with a timeout.

    The holder writes its process id into the sidecar, so that a process waiting
    for it can say which process it waits for. Each try opens the sidecar anew (each
    thread's own open file, so threads of one process exclude each other too).

    Args:
        path: The sidecar file, e.g. ``.token-oauth.lock``.
        timeout: Seconds `hold` waits when it is given none.
    """

    def __init__(self, path: str, timeout: float = LOCK_TIMEOUT) -> None:
        super().__init__(timeout)
        self.path = path
        self._fd = -1  # the holder's descriptor of the sidecar; -1: none needed

    @property
    def name(self) -> str:
        return f"the lock {self.path}"

    @property
    def advice(self) -> str:
        return (
            " If no other process is using this cache, that process may be stuck: stop it "
            "and try again."
        )

    def try_acquire(self, wait: float) -> bool:
        fd = _open_lock_file(self.path)  # -1: nothing can be written there, nor guarded
        if fd >= 0:
            try:
                locked = _try_lock(fd)
            except BaseException:
                os.close(fd)
                raise
            if not locked or not _still_named(fd, self.path):
                os.close(fd)  # a sidecar removed meanwhile (`remove_if_free`): try anew
                return False
            _note_holder(fd)
        self._fd = fd
        return True

    def remove_if_free(self) -> bool:
        """Remove the sidecar file if no one holds the lock; return whether it did.

        It is removed while held, so a process that opened it meanwhile finds it no
        longer named by its path once it locks it, and tries again on a new one.
        """
        if self.owner is not None or not os.path.lexists(self.path):
            return False
        try:
            with self.hold(0.0):
                if self._fd < 0:  # nothing can be written there: nothing to remove
                    return False
                os.unlink(self.path)
        except (TokenCacheError, OSError):  # held, or cannot be removed (Windows: open)
            return False
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def holder(self) -> str:
        try:
            fd = open_checked(
                self.path, os.O_RDONLY, "the lock file", follow_own_link=False, sole_link=True
            )
        except OSError:
            return "another process"
        try:
            return _holder(fd)
        finally:
            os.close(fd)


def _still_named(fd: int, path: str) -> bool:
    """Whether *path* still names the file open on *fd* (a free sidecar may be removed)."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


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
            pid = int(os.pread(fd, _MAX_LOCK_RECORD, 0))
        except (OSError, ValueError):
            return "another process"
        if pid == os.getpid():  # flock excludes the threads of one process too
            return "another thread of this process"
        return f"process {pid}"


_FILE_LOCKS: dict[str, FileLock] = {}
"""Every sidecar lock of this process, by absolute path (see `file_lock`)."""


def file_lock(path: str) -> FileLock:
    """The process's one `FileLock` for the sidecar *path*.

    Every store of one file shares it, so a thread that holds the lock through one
    store enters it again through another, rather than waiting for itself. Made
    without a lock of its own (`dict.setdefault` keeps the first, atomically), so no
    lock can be held across a ``fork``.
    """
    key = os.path.abspath(path)
    lock = _FILE_LOCKS.get(key)
    if lock is None:
        lock = _FILE_LOCKS.setdefault(key, FileLock(path))
    return lock


class ThreadLock(Lock):
    """An exclusive lock shared by the threads of one process.

    A waiter blocks on the lock itself (so it gets it the moment it is free), waking
    only to say whom it waits for and to give up.

    Args:
        what: What the lock guards, for messages: ``the memory store``.
        timeout: Seconds `hold` waits when it is given none.
    """

    interval = ANNOUNCE_AFTER

    def __init__(self, what: str, timeout: float = LOCK_TIMEOUT) -> None:
        super().__init__(timeout)
        self.what = what
        self._lock = allocate_lock()

    @property
    def name(self) -> str:
        return f"the lock of {self.what}"

    def try_acquire(self, wait: float) -> bool:
        return self._lock.acquire(True, wait) if wait > 0 else self._lock.acquire(False)

    def release(self) -> None:
        self._lock.release()

    def holder(self) -> str:
        return "another thread"


NO_LOCK: AbstractContextManager[None] = contextlib.nullcontext()
"""The lock of a store that is never written: holding it does nothing."""
