"""Storage faults: read-only folder, full disk, a folder or a foreign symlink as the path."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import env_without_coverage
from helpers import IDENTITY

from ticktick import TokenCacheError
from ticktick.stores import FileStore

OLD = {"access_token": "old-token", "expire_time": int(time.time()) + 86400}
NOBODY = 65534
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

WRITER = """
import os, sys, time
from ticktick import TokenCacheError
from ticktick.stores import FileStore, TokenIdentity
import ticktick.stores.locks  # loaded by the first write; nobody could not load it later
if sys.argv[3] == 'nobody':  # after the imports: Python itself lives where nobody cannot go
    os.setgid(65534)
    os.setuid(65534)
identity = TokenIdentity('ticktick.com', 'cid', 'tasks:read tasks:write')
store = FileStore(sys.argv[1], identity=identity)
try:
    store.write({'access_token': 'new-token', 'expire_time': int(time.time()) + 86400,
                 'padding': 'x' * int(sys.argv[2])})
except TokenCacheError as exc:
    print('TokenCacheError:', exc)
    sys.exit(3)
print('written')
"""


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder other users can enter (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="ticktick-storage-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def run_writer(
    path: Path, padding: int = 0, *, as_nobody: bool = False, max_file_size: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limits() -> None:
        if max_file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of a signal
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))

    return subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(padding), "nobody" if as_nobody else "me"],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limits,
        check=False,
        env=env_without_coverage(),
    )


def test_read_only_folder_is_a_clear_error_and_keeps_the_token(shared_folder: Path) -> None:
    folder = shared_folder / "read-only"
    folder.mkdir()
    path = folder / ".token-oauth"
    FileStore(path, identity=IDENTITY).write(OLD)
    path.chmod(0o644)  # readable by the other user, who may not write the folder
    folder.chmod(0o555)
    # Root ignores permission bits, so the write is tried as another user when root.
    result = run_writer(path, as_nobody=IS_ROOT)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "TokenCacheError" in result.stdout
    assert "Permission denied" in result.stdout
    assert str(folder) in result.stdout
    assert json.loads(path.read_text())["access_token"] == "old-token"
    assert {p.name for p in folder.iterdir()} <= {".token-oauth", ".token-oauth.lock"}


def test_full_disk_is_a_clear_error_and_keeps_the_token(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    FileStore(path, identity=IDENTITY).write(OLD)
    before = path.read_bytes()
    result = run_writer(path, padding=10_000, max_file_size=2048)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the disk is full" in result.stdout
    assert path.read_bytes() == before  # the old token is untouched
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    ok = run_writer(path, padding=10, max_file_size=2048)  # a small write still fits
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(path.read_text())["access_token"] == "new-token"


def test_cache_path_that_is_a_folder(tmp_path: Path) -> None:
    store = FileStore(tmp_path, identity=IDENTITY)
    with pytest.raises(TokenCacheError, match="is a folder"):
        store.read()
    with pytest.raises(TokenCacheError, match="is a folder"):
        store.write(OLD)
    assert tmp_path.is_dir()


def test_own_symlink_is_followed_for_reading(tmp_path: Path) -> None:
    target = tmp_path / "real-token"
    FileStore(target, identity=IDENTITY).write(OLD)
    link = tmp_path / ".token-oauth"
    link.symlink_to(target)
    token = FileStore(link, identity=IDENTITY).read()
    assert token is not None
    assert token["access_token"] == "old-token"


@pytest.mark.skipif(not IS_ROOT, reason="giving a symlink another owner needs root")
def test_symlink_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "someone-elses-file"
    victim.write_text("precious")
    link = tmp_path / ".token-oauth"
    link.symlink_to(victim)
    os.lchown(link, NOBODY, NOBODY)
    store = FileStore(link, identity=IDENTITY)
    with pytest.raises(TokenCacheError, match="symbolic link owned by another user") as caught:
        store.read()
    assert f"uid {NOBODY}" in str(caught.value)
    with pytest.raises(TokenCacheError, match="Refusing to follow it"):
        store.write(OLD)
    assert victim.read_text() == "precious"
    assert link.is_symlink()


@pytest.mark.skipif(not IS_ROOT, reason="giving a symlink another owner needs root")
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_folder_linked_by_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    """``dl/tok`` with ``dl`` another user's link: refused like a final link, read or write."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "tok").write_text(json.dumps(OLD))  # their planted token, in your name
    (theirs / "tok").chmod(0o600)
    link = tmp_path / "dl"
    link.symlink_to(theirs, target_is_directory=True)
    os.lchown(link, NOBODY, NOBODY)
    monkeypatch.chdir(tmp_path)
    path = Path("dl/tok") if relative else link / "tok"
    store = FileStore(path, identity=IDENTITY)
    with pytest.raises(TokenCacheError, match="symbolic link owned by another user") as caught:
        store.read()
    assert f"is reached through {path.parent}" in str(caught.value)
    assert f"uid {NOBODY}" in str(caught.value)
    with pytest.raises(TokenCacheError, match="Refusing to follow it"):
        store.write({"access_token": "new-token", "expire_time": 2_000_000_000})
    assert json.loads((theirs / "tok").read_text()) == OLD
    os.lchown(link, 0, 0)  # root's links (as /var on macOS) and your own are followed
    assert FileStore(path, identity=IDENTITY).read() is not None
