"""The token cache file: format, permissions, atomic writes, set-aside, locking."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import IDENTITY

from ticktick import CacheHandler, TokenCacheError, TokenIdentity

TOKEN: dict[str, Any] = {
    "access_token": "628ff081-5331-4a37-8ddk-021974c9f43g",
    "token_type": "bearer",
    "expires_in": 14772375,
    "scope": "tasks:read tasks:write",
    "expire_time": int(time.time()) + 86400 * 100,
    "readable_expire_time": "Wed Nov 17 15:48:55 2027",
}


def aside_files(path: Path, kind: str) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.{kind}-*"))


def test_ticktick_py_file_loads(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    path.write_text(json.dumps(TOKEN))
    path.chmod(0o600)
    assert CacheHandler(path, identity=IDENTITY).get_cached_token() == TOKEN
    assert CacheHandler(path).get_cached_token() == TOKEN


def test_missing_file_is_silent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert CacheHandler(tmp_path / "nope").get_cached_token() is None
    assert caplog.records == []


def test_write_is_0600_from_the_start_and_records_identity(cache_path: Path) -> None:
    old_umask = os.umask(0)  # a permissive umask must not widen the file
    try:
        CacheHandler(cache_path, identity=IDENTITY).write_token_to_cache(TOKEN)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_path.parent.stat().st_mode) == 0o700
    stored = json.loads(cache_path.read_text())
    assert stored["issued_for"] == {
        "host": "ticktick.com",
        "client_id": "cid",
        "scope": "tasks:read tasks:write",
    }
    assert {key: stored[key] for key in TOKEN} == TOKEN
    loaded = CacheHandler(cache_path, identity=IDENTITY).get_cached_token()
    assert loaded is not None
    assert "issued_for" not in loaded


def test_write_replaces_atomically_and_leaves_no_temp_file(cache_path: Path) -> None:
    cache = CacheHandler(cache_path, identity=IDENTITY)
    cache.write_token_to_cache(TOKEN)
    reader = open(cache_path, "rb")  # noqa: SIM115 - held open across the replace
    first_inode = os.fstat(reader.fileno()).st_ino
    cache.write_token_to_cache({**TOKEN, "access_token": "second"})
    # The open reader still sees the complete old file: the new one replaced it by rename.
    assert json.loads(reader.read())["access_token"] == TOKEN["access_token"]
    reader.close()
    assert cache_path.stat().st_ino != first_inode
    assert json.loads(cache_path.read_text())["access_token"] == "second"
    leftovers = [p.name for p in cache_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_existing_0644_file_warns_and_is_tightened_on_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / ".token-oauth"
    path.write_text(json.dumps(TOKEN))
    path.chmod(0o644)
    cache = CacheHandler(path, identity=IDENTITY)
    with caplog.at_level(logging.WARNING, logger="ticktick"):
        assert cache.get_cached_token() is not None
        assert cache.get_cached_token() is not None
    warnings = [r for r in caplog.records if "can be read by other users" in r.getMessage()]
    assert len(warnings) == 1
    assert TOKEN["access_token"] not in caplog.text
    cache.write_token_to_cache(TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"access_token": "628ff081-53', "not valid JSON"),
        (b"\xff\xfe garbage", "not valid JSON"),
        (b"[1, 2, 3]", "is a list, not a dict"),
        (b'{"token_type": "bearer"}', "no 'access_token'"),
        (b'{"access_token": "x", "expire_time": "tomorrow"}', "'expire_time'"),
        (b"", "not valid JSON"),
    ],
)
def test_corrupt_file_is_set_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, problem: str
) -> None:
    path = tmp_path / ".token-oauth"
    path.write_bytes(content)
    cache = CacheHandler(path, identity=IDENTITY)
    with caplog.at_level(logging.WARNING, logger="ticktick"):
        assert cache.get_cached_token() is None
    assert not path.exists()
    (aside,) = aside_files(path, "corrupt")
    assert aside.read_bytes() == content  # nothing lost
    assert len(caplog.records) == 1
    assert problem in caplog.text
    assert "628ff081" not in caplog.text


def test_oversized_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    path.write_bytes(b" " * (1024 * 1024 + 10))
    assert CacheHandler(path).get_cached_token() is None
    assert len(aside_files(path, "corrupt")) == 1


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        (TokenIdentity("ticktick.com", "client-b", "tasks:read tasks:write"), "client_id"),
        (TokenIdentity("dida365.com", "cid", "tasks:read tasks:write"), "host"),
        (TokenIdentity("ticktick.com", "cid", "tasks:read"), "scope"),
    ],
)
def test_foreign_token_is_not_used_then_set_aside_on_write(
    cache_path: Path, caplog: pytest.LogCaptureFixture, identity: TokenIdentity, reason: str
) -> None:
    CacheHandler(cache_path, identity=IDENTITY).write_token_to_cache(TOKEN)
    original = cache_path.read_bytes()
    other = CacheHandler(cache_path, identity=identity)
    with caplog.at_level(logging.WARNING, logger="ticktick"):
        assert other.get_cached_token() is None
    assert reason in caplog.text
    assert cache_path.read_bytes() == original  # reading never destroys it
    other.write_token_to_cache({**TOKEN, "access_token": "other"})
    (aside,) = aside_files(cache_path, "foreign")
    assert aside.read_bytes() == original
    assert other.get_cached_token() is not None


def test_scope_order_does_not_matter(cache_path: Path) -> None:
    CacheHandler(cache_path, identity=IDENTITY).write_token_to_cache(TOKEN)
    same = TokenIdentity("ticktick.com", "cid", "tasks:read  tasks:write")
    assert CacheHandler(cache_path, identity=same).get_cached_token() is not None


def test_legacy_file_is_taken_as_ticktick_com(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    path.write_text(json.dumps(TOKEN))
    dida = TokenIdentity("dida365.com", "cid", "tasks:write tasks:read")
    assert CacheHandler(path, identity=dida).get_cached_token() is None
    narrower = TokenIdentity("ticktick.com", "cid", "tasks:read")
    assert CacheHandler(path, identity=narrower).get_cached_token() is not None
    wider = TokenIdentity("ticktick.com", "cid", "tasks:read tasks:write tasks:admin")
    assert CacheHandler(path, identity=wider).get_cached_token() is None


def test_bad_issued_for_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    path.write_text(json.dumps({**TOKEN, "issued_for": "everyone"}))
    assert CacheHandler(path, identity=IDENTITY).get_cached_token() is None


def test_directory_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TokenCacheError, match="is a folder"):
        CacheHandler(tmp_path).get_cached_token()


def test_unreadable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(TokenCacheError, match="Cannot read the token cache"):
        CacheHandler(tmp_path / "file" / ".token-oauth").get_cached_token()


def test_unwritable_folder_is_a_clear_error_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-dir" / ".token-oauth"
    (tmp_path / "not-a-dir").write_text("a file where a folder should be")
    with pytest.raises(TokenCacheError, match="not-a-dir"):
        CacheHandler(path).write_token_to_cache(TOKEN)


def test_delete(cache_path: Path) -> None:
    cache = CacheHandler(cache_path, identity=IDENTITY)
    assert cache.delete() is False
    cache.write_token_to_cache(TOKEN)
    assert cache.delete() is True
    assert not cache_path.exists()


def test_lock_is_shared_across_processes(cache_path: Path) -> None:
    cache = CacheHandler(cache_path, identity=IDENTITY, lock_timeout=0.3)
    cache.write_token_to_cache(TOKEN)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(30)\n",
            str(cache_path) + ".lock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TokenCacheError, match=r"Waited 0\.3 s for the lock"):
            cache.write_token_to_cache({**TOKEN, "access_token": "blocked"})
    finally:
        holder.kill()
        holder.wait()
    assert json.loads(cache_path.read_text())["access_token"] == TOKEN["access_token"]
    cache.write_token_to_cache({**TOKEN, "access_token": "after"})  # lock freed by the kill
    assert json.loads(cache_path.read_text())["access_token"] == "after"


def test_concurrent_writers_never_leave_a_partial_file(cache_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from ticktick import CacheHandler, TokenIdentity\n"
        "cache = CacheHandler(sys.argv[1], identity=TokenIdentity('ticktick.com', 'cid',"
        " 'tasks:write tasks:read'))\n"
        "for i in range(40):\n"
        "    cache.write_token_to_cache({'access_token': sys.argv[2] + str(i), 'expire_time':"
        " int(time.time()) + 86400})\n"
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(cache_path), f"w{n}-"])
        for n in range(4)
    ]
    reader = CacheHandler(cache_path, identity=IDENTITY)
    seen = 0
    while any(w.poll() is None for w in writers):
        token = reader.get_cached_token()
        if token is not None:
            assert token["access_token"].startswith("w")
            seen += 1
    assert seen > 0
    assert all(w.returncode == 0 for w in writers)
    assert aside_files(cache_path, "corrupt") == []
    final = reader.get_cached_token()
    assert final is not None
    assert final["access_token"].endswith("-39")
