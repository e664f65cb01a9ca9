"""Bytes on disk: the one rule for opening a file, and private atomic writes.

`open_checked` opens the cache, its lock sidecar and every file the CLI writes:
only a regular file of your own, never blocking on a FIFO or a device.
`write_private_file` writes through a 0600 temporary file and one rename.
"""

from __future__ import annotations

import errno
import os
import stat

from ..errors import TokenCacheError

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


def foreign_link(path: str, what: str) -> TokenCacheError | None:
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
            refused = foreign_link(path, what)
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


def read_up_to(fd: int, limit: int) -> bytes:
    """The bytes of the open file *fd*: all of them, or the first *limit* + 1.

    One byte past the limit tells the caller the file is too large, without reading a
    huge file whole.

    Raises:
        OSError: The file cannot be read.
    """
    chunks = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


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
        unlink_quietly(tmp_name)
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
        refused = foreign_link(path, what)
    else:
        refused = file_problem(info, path, what)
    if refused is not None:
        raise refused


def make_folder_quietly(path: str) -> None:
    """Create the folder *path* (mode 0700) if possible."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return


def unlink_quietly(path: str) -> None:
    """Remove *path* if possible (not contextlib.suppress: this module is on the fast path)."""
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
