"""Files as an attacker or a broken machine leaves them: the one rule for opening them.

Every test recreates the real condition: a FIFO (``os.mkfifo``), a socket file, a
device, a symbolic link or a file owned by another user (``nobody``; CI runs as
root), two caches written at once by real processes, a read-only bind mount, a full
tmpfs, a process holding the lock while it signs on. Anything that could hang runs
in a subprocess with a timeout, or under a tight ``pytest.mark.timeout``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import RedisServer, env_without_coverage
from helpers import (
    IDENTITY,
    clean_env,
    finish_cli,
    follow_sign_on,
    free_port,
    login_argv,
    read_to_authorize_url,
    run_cli,
    run_python,
    start_cli,
)

from ticktick import (
    OAuth2,
    OpenAPI,
    ReauthorizationRequired,
    TokenCacheError,
    TokenNotStoredWarning,
    Unauthorized,
)
from ticktick.stores import FileStore, TokenIdentity
from ticktick.stores.disk import is_temporary_of, temporary_name
from ticktick.testing import FakeTickTick

NOBODY = 65534
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="mounts and other owners need root")

DAY = 86400


def token(access_token: str = "tok-valid", days: float = 100) -> dict[str, object]:
    return {"access_token": access_token, "expire_time": int(time.time() + days * DAY)}


@contextmanager
def mounted(folder: Path, *options: str) -> Iterator[Path]:
    """*folder* with a mount on it (``mount OPTIONS``); always unmounted afterwards."""
    subprocess.run(["mount", *options, str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """*folder* as a read-only bind mount of itself (Docker's ``:ro``)."""
    with mounted(folder, "--bind", str(folder)):
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield folder


@contextmanager
def full_disk(folder: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs on *folder*, filled to the last byte."""
    folder.mkdir(exist_ok=True)
    with mounted(folder, "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"):
        filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(filler, b"x" * 512):
                pass
        except OSError:  # ENOSPC: full
            pass
        finally:
            os.close(filler)
        yield folder


# -- 1. special files at the cache path and at the lock sidecar ------------------------


@pytest.mark.timeout(60)
def test_fifo_at_the_cache_path_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / ".token-oauth"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = run_python(
        """
        import sys
        from ticktick import OAuth2, TokenCacheError
        try:
            OAuth2("cid", "secret", "http://127.0.0.1:8080/", cache_path=sys.argv[1])
        except TokenCacheError as exc:
            print("TokenCacheError:", exc)
        """,
        str(fifo),
        timeout=20,
        CI="1",
    )
    assert "TokenCacheError:" in result.stdout, result.stdout + result.stderr
    assert "named pipe (FIFO)" in result.stdout
    assert str(fifo) in result.stdout

    token_command = run_cli("token", "--cache-path", str(fifo), CI="1", timeout=20)
    assert token_command.returncode == 1
    assert "named pipe (FIFO)" in token_command.stderr
    assert token_command.stdout == ""
    assert time.monotonic() - started < 30  # well under a hang: both ended by themselves
    assert fifo.exists()  # refused, not removed


def test_socket_at_the_cache_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        store = FileStore(path, identity=IDENTITY)
        with pytest.raises(TokenCacheError, match="is a socket, not a regular file"):
            store.read()
        with pytest.raises(TokenCacheError, match="is a socket"):
            store.write(token())


def test_device_at_the_cache_path_is_refused(tmp_path: Path) -> None:
    link = tmp_path / ".token-oauth"
    link.symlink_to("/dev/null")  # your own link: followed, but to a device
    with pytest.raises(TokenCacheError, match="is a character device"):
        FileStore(link, identity=IDENTITY).read()
    assert link.is_symlink()  # not "set aside" as a corrupt cache
    with pytest.raises(TokenCacheError, match="is a character device"):
        FileStore("/dev/null", identity=IDENTITY).read()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device", "socket"])
def test_special_file_at_the_lock_sidecar_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ".token-oauth"
    lock = tmp_path / ".token-oauth.lock"
    listener = socket.socket(socket.AF_UNIX)
    if kind == "fifo":
        os.mkfifo(lock)
    elif kind == "device":  # a node of its own: a link to /dev/null is refused as a link
        if not IS_ROOT:
            pytest.skip("making a device node needs root")
        os.mknod(lock, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    else:
        listener.bind(str(lock))
    try:
        result = run_python(
            """
            import sys, time
            from ticktick import TokenCacheError
            from ticktick.stores import FileStore, TokenIdentity
            store = FileStore(sys.argv[1], identity=TokenIdentity("ticktick.com", "cid", "x"))
            try:
                store.write({"access_token": "tok", "expire_time": time.time() + 86400})
            except TokenCacheError as exc:
                print("TokenCacheError:", exc)
            """,
            str(path),
            timeout=20,
        )
    finally:
        listener.close()
    assert "TokenCacheError:" in result.stdout, result.stdout + result.stderr
    assert "The lock file" in result.stdout
    assert "not a regular file" in result.stdout
    assert not path.exists()


@needs_root
def test_lock_sidecar_symlink_of_another_user_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "planted-by-nobody"  # where the link's owner wants a file created
    lock = tmp_path / ".token-oauth.lock"
    lock.symlink_to(target)
    os.lchown(lock, NOBODY, NOBODY)
    store = FileStore(tmp_path / ".token-oauth", identity=IDENTITY)
    with pytest.raises(TokenCacheError, match="symbolic link owned by another user") as caught:
        store.write(token())
    assert "uid 65534 (nobody)" in str(caught.value)
    assert "The lock file" in str(caught.value)
    assert not target.exists()  # nothing created through the link
    assert not (tmp_path / ".token-oauth").exists()


# Found by the second outside attack on issue 11: the holder of the lock writes its
# process id into the sidecar (truncating it first) and empties it on release, so a
# sidecar that was a link of one's own (``.token-oauth.lock -> notes.txt``) or a hard
# link destroyed the file it named, through FileStore.write or ``ticktick-auth logout``.

PRECIOUS = b"my precious notes, not a lock file\n" * 10


@pytest.mark.timeout(60)
def test_own_symlink_at_the_lock_sidecar_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(PRECIOUS)
    lock = tmp_path / ".token-oauth.lock"
    lock.symlink_to(notes)
    store = FileStore(tmp_path / ".token-oauth", identity=IDENTITY)
    with pytest.raises(TokenCacheError, match="is a symbolic link") as caught:
        store.write(token())
    assert "The lock file" in str(caught.value)
    assert "Remove the link" in str(caught.value)
    assert notes.read_bytes() == PRECIOUS
    assert lock.is_symlink()  # refused, not replaced
    assert not (tmp_path / ".token-oauth").exists()


@pytest.mark.timeout(60)
def test_own_dangling_symlink_at_the_lock_sidecar_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "made-through-the-link"
    (tmp_path / ".token-oauth.lock").symlink_to(target)
    with pytest.raises(TokenCacheError, match="is a symbolic link"):
        FileStore(tmp_path / ".token-oauth", identity=IDENTITY).write(token())
    assert not target.exists()


@pytest.mark.timeout(60)
def test_logout_with_a_symlinked_lock_sidecar_keeps_its_target(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(PRECIOUS)
    cache = tmp_path / "cache"
    cache.write_text(json.dumps(token("tok-kept")))
    cache.chmod(0o600)
    (tmp_path / "cache.lock").symlink_to(notes)
    result = run_cli("logout", "--cache-path", str(cache), timeout=20)
    assert notes.read_bytes() == PRECIOUS
    assert result.returncode == 1, result.stdout + result.stderr
    assert "is a symbolic link" in result.stderr
    assert "Traceback" not in result.stderr
    assert "tok-kept" in cache.read_text()  # nothing removed either


@pytest.mark.timeout(60)
def test_hard_link_at_the_lock_sidecar_is_refused_and_its_other_name_kept(
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(PRECIOUS)
    os.link(notes, tmp_path / ".token-oauth.lock")
    store = FileStore(tmp_path / ".token-oauth", identity=IDENTITY)
    with pytest.raises(TokenCacheError, match="hard link") as caught:
        store.write(token())
    assert "The lock file" in str(caught.value)
    assert notes.read_bytes() == PRECIOUS
    assert not (tmp_path / ".token-oauth").exists()


@pytest.mark.timeout(60)
def test_lock_sidecar_holding_other_data_is_refused_and_kept(tmp_path: Path) -> None:
    lock = tmp_path / ".token-oauth.lock"
    lock.write_bytes(PRECIOUS)
    store = FileStore(tmp_path / ".token-oauth", identity=IDENTITY)
    with pytest.raises(TokenCacheError, match="other than a lock's process id"):
        store.write(token())
    assert lock.read_bytes() == PRECIOUS


@pytest.mark.timeout(60)
def test_lock_sidecar_left_by_a_lock_is_used_again(tmp_path: Path) -> None:
    lock = tmp_path / ".token-oauth.lock"
    for left in (b"", b"4242\n"):  # released, or its holder died
        lock.write_bytes(left)
        FileStore(tmp_path / ".token-oauth", identity=IDENTITY).write(token())
        assert lock.read_bytes() == b""  # released
    assert FileStore(tmp_path / ".token-oauth", identity=IDENTITY).read() is not None


# -- 2. a cache file of another user: token fixation -------------------------------------


@needs_root
def test_cache_file_of_another_user_is_not_used(fake: FakeTickTick, tmp_path: Path) -> None:
    planter = fake.oauth2(cache_path=None)  # the attacker signs on to their own account
    planted = tmp_path / ".token-oauth"
    FileStore(planted, identity=planter.identity).write(planter.access_token_info or {})
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(TokenCacheError) as caught:
        fake.oauth2(cache_path=planted, authorizer=None)
    message = str(caught.value)
    assert "owned by another user (uid 65534 (nobody))" in message
    assert "Remove it" in message
    assert planter.get_access_token() not in message
    assert len(fake.requests) == 2  # the planted token was never sent to the API


@needs_root
def test_output_file_of_another_user_is_not_replaced(tmp_path: Path) -> None:
    from ticktick.stores.disk import write_private_file

    target = tmp_path / "theirs.json"
    target.write_text("theirs")
    os.chown(target, NOBODY, NOBODY)
    with pytest.raises(TokenCacheError, match="owned by another user"):
        write_private_file(target, b"{}", what="the output file")
    assert target.read_text() == "theirs"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(TokenCacheError, match="named pipe"):
        write_private_file(fifo, b"{}", what="the output file")


# -- 3. temporary files of another cache in the same folder -------------------------------


def test_temporary_names_are_matched_exactly(tmp_path: Path) -> None:
    main = str(tmp_path / ".token-oauth")
    second = str(tmp_path / ".token-oauth.dida365")
    mine = os.path.basename(temporary_name(main))
    theirs = os.path.basename(temporary_name(second))
    assert is_temporary_of(mine, main)
    assert not is_temporary_of(theirs, main)
    assert is_temporary_of(theirs, second)
    assert not is_temporary_of(".token-oauth.dida365", main)
    assert not is_temporary_of(mine + "x", main)


WRITER = """
import os, sys, time
from ticktick import TokenCacheError
from ticktick.stores import FileStore, TokenIdentity
path, host, go, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = FileStore(path, identity=TokenIdentity(host, "cid", "tasks:read tasks:write"))
while not os.path.exists(go):
    time.sleep(0.005)
failed = 0
for n in range(count):
    try:
        store.write({"access_token": f"{host}-{os.getpid()}-{n}", "expire_time": time.time() + 9e5})
    except TokenCacheError as exc:
        failed += 1
        last = str(exc)
print(failed, flush=True)
"""


@pytest.mark.timeout(180)
def test_two_caches_in_one_folder_written_at_once(tmp_path: Path) -> None:
    """docs/errors.md's naming for a second region: .token-oauth and .token-oauth.dida365."""
    go = tmp_path / "go"
    caches = {
        "ticktick.com": tmp_path / ".token-oauth",
        "dida365.com": tmp_path / ".token-oauth.dida365",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), host, str(go), "100"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_without_coverage(),
        )
        for host, path in caches.items()
        for _ in range(2)
    ]
    time.sleep(0.5)
    go.touch()
    results = [worker.communicate(timeout=150) for worker in workers]
    failures = [int(out.strip() or "-1") for out, _ in results]
    assert failures == [0, 0, 0, 0], results
    for host, path in caches.items():
        stored = FileStore(
            path, identity=TokenIdentity(host, "cid", "tasks:read tasks:write")
        ).read()
        assert stored is not None
        assert stored["access_token"].startswith(f"{host}-")
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


# -- 4. a read-only cache folder -----------------------------------------------------------


@needs_root
@pytest.mark.timeout(60)
def test_read_only_folder_expired_token_needs_reauthorization(
    fake: FakeTickTick, tmp_path: Path
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    cache = folder / ".token-oauth"
    signed_on = fake.oauth2(cache_path=None)
    FileStore(cache, identity=signed_on.identity).write(token("tok-expired", days=-1))
    (folder / ".token-oauth.lock").unlink()  # as copied into an image: no lock file
    with read_only(folder):
        with pytest.raises(ReauthorizationRequired, match="ticktick-auth login"):
            fake.oauth2(cache_path=cache, authorizer=None)
        assert json.loads(cache.read_text())["access_token"] == "tok-expired"
        with pytest.raises(TokenCacheError, match=r"Cannot remove the token cache .*Read-only"):
            FileStore(cache).delete()  # what 'ticktick-auth logout' does: an error, not a warning


@needs_root
@pytest.mark.timeout(60)
def test_read_only_folder_refused_token_is_unauthorized(fake: FakeTickTick, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    cache = folder / ".token-oauth"
    refused = fake.oauth2(cache_path=cache).get_access_token()  # also leaves the .lock file
    fake.revoke(refused)
    with read_only(folder):
        cron = fake.oauth2(cache_path=cache, authorizer=None)
        with pytest.raises(Unauthorized) as caught:
            OpenAPI(cron).list_projects()
        assert caught.value.status == 401
        assert json.loads(cache.read_text())["access_token"] == refused  # could not be removed
    assert fake.token_requests == 1


@needs_root
@pytest.mark.timeout(60)
def test_read_only_folder_corrupt_cache_counts_as_no_token_with_one_warning(
    fake: FakeTickTick, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    cache = folder / ".token-oauth"
    cache.write_text("{not json")
    cache.chmod(0o600)
    with read_only(folder):
        store = FileStore(cache, identity=IDENTITY)
        with caplog.at_level(logging.WARNING, logger="ticktick"):
            assert store.read() is None
            assert store.read() is None
        (warning,) = [r.getMessage() for r in caplog.records if "moved aside" in r.getMessage()]
        assert "could not be moved aside (Read-only file system)" in warning
        assert "counts as no token" in warning
        with pytest.raises(ReauthorizationRequired, match="ticktick-auth login"):
            fake.oauth2(cache_path=cache, authorizer=None)
        status = run_cli("status", "--cache-path", str(cache), "--env-key=", timeout=20)
        assert status.returncode == 1, status.stderr
        assert "No token for ticktick.com in cache file" in status.stdout
        assert "Traceback" not in status.stderr
        assert status.stderr.count("could not be moved aside") == 1, status.stderr
        assert cache.read_text() == "{not json"  # left as it was


# -- 5. waiting for another process --------------------------------------------------------

HOLDER = """
import sys, time
from ticktick.stores import FileStore, TokenIdentity
path, seconds, host, client_id, new_token = sys.argv[1:6]
store = FileStore(path, identity=TokenIdentity(host, client_id, "tasks:write tasks:read"))
with store.lock(120):
    print("held", flush=True)
    time.sleep(float(seconds))  # a person signing on
    store.write({"access_token": new_token, "expire_time": int(time.time()) + 9e6})
"""


@contextmanager
def signing_on(
    cache: Path, seconds: float, identity: TokenIdentity, new_token: str
) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the store's lock for *seconds*, then writes *new_token*."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(cache),
            str(seconds),
            identity.host,
            identity.client_id or "",
            new_token,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env_without_coverage(),
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        yield holder
        assert holder.wait(timeout=60) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.timeout(60)
def test_process_without_terminal_says_it_waits_and_for_whom(tmp_path: Path) -> None:
    cache = tmp_path / ".token-oauth"
    with signing_on(cache, 3, IDENTITY, "tok-from-the-other-process") as holder:
        result = run_python(
            """
            import sys
            from ticktick import OAuth2
            oauth = OAuth2("cid", "secret", "http://127.0.0.1:8080/", cache_path=sys.argv[1],
                           interactive=False)
            print(oauth.get_access_token(), oauth.token_source)
            """,
            str(cache),
            timeout=40,
        )
    assert result.stdout.split() == ["tok-from-the-other-process", f"cache:{cache}"], result.stderr
    waiting = [line for line in result.stderr.splitlines() if "Waiting up to" in line]
    assert len(waiting) == 1, result.stderr  # said once
    assert f"Waiting up to 330 s for process {holder.pid}" in waiting[0]
    assert str(cache) + ".lock" in waiting[0]


@pytest.mark.timeout(60)
def test_nothing_to_wait_for_is_reauthorization_at_once(tmp_path: Path) -> None:
    cache = tmp_path / ".token-oauth"
    FileStore(cache, identity=IDENTITY).write(token("tok-expired", days=-1))
    started = time.monotonic()
    with pytest.raises(ReauthorizationRequired):
        OAuth2("cid", "secret", "http://127.0.0.1:8080/", cache_path=cache, interactive=False)
    assert time.monotonic() - started < 5


@pytest.mark.timeout(90)
def test_401_while_another_process_signs_on_waits_for_its_token(
    fake: FakeTickTick, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / ".token-oauth"
    cron = fake.oauth2(cache_path=cache)
    refused = cron.get_access_token()
    cron = fake.oauth2(cache_path=cache, authorizer=None)  # a process with nobody to ask
    fake.revoke(refused)
    fresh = fake.oauth2(cache_path=None).get_access_token()  # what the other process gets
    # The lock is held longer than the store's own 10 s write timeout.
    with signing_on(cache, 12, cron.identity, fresh), caplog.at_level(logging.WARNING):
        assert OpenAPI(cron).list_projects() == []
    assert cron.get_access_token() == fresh
    assert any("Waiting up to 330 s for process" in r.getMessage() for r in caplog.records)


# -- 6. a fresh token is never thrown away --------------------------------------------------


@needs_root
@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["full disk", "read-only folder", "empty path"])
def test_fresh_token_is_kept_when_the_store_cannot_be_written(
    fake: FakeTickTick, tmp_path: Path, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "store"
    folder.mkdir()

    def sign_on(cache_path: str) -> OAuth2:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            oauth = fake.oauth2(cache_path=cache_path)
        (warning,) = [w for w in caught if issubclass(w.category, TokenNotStoredWarning)]
        assert "could not be stored" in str(warning.message)
        assert "This process keeps using it" in str(warning.message)
        return oauth

    if where == "full disk":
        with full_disk(folder):
            oauth = sign_on(str(folder / ".token-oauth"))
        expected = "the disk is full"
    elif where == "read-only folder":
        with read_only(folder):
            oauth = sign_on(str(folder / ".token-oauth"))
        expected = "Read-only file system"
    else:
        oauth = sign_on("")
        expected = "path is empty"
    (issued,) = fake.issued
    assert oauth.get_access_token() == issued  # returned and kept in memory
    assert oauth.token_source == "authorization"
    assert isinstance(oauth.store_error, TokenCacheError)
    assert expected in str(oauth.store_error)
    assert issued not in str(oauth.store_error)
    assert any("could not be stored" in r.getMessage() for r in caplog.records)
    assert OpenAPI(oauth).list_projects() == []  # and it works
    assert fake.token_requests == 1


@needs_root
@pytest.mark.timeout(60)
def test_login_without_terminal_prints_the_token_it_could_not_store(tmp_path: Path) -> None:
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/"
    folder = tmp_path / "ro"
    folder.mkdir()
    env = clean_env(TICKTICK_CLIENT_SECRET="fake-client-secret")
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake, read_only(folder):
        cache = str(folder / ".token-oauth")
        proc = start_cli(*login_argv(fake, redirect, "--cache-path", cache, timeout=30), env=env)
        assert proc.stderr is not None
        seen: list[str] = []
        url = read_to_authorize_url(proc.stderr, fake, seen)
        assert url is not None, "no authorize URL: " + "".join(seen)
        assert follow_sign_on(url).status_code == 200
        out, err = finish_cli(proc)
        (issued,) = fake.issued
    assert proc.returncode == 0, "".join(seen) + err
    assert json.loads(out)["access_token"] == issued
    assert "NOT stored in cache file" in err
    assert "could not be stored" in err
    assert issued not in err
    assert not (folder / ".token-oauth").exists()


@pytest.mark.timeout(60)
def test_redis_waiter_says_for_whom_it_waits(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from ticktick.stores.redis import RedisStore

    holder, waiter = (RedisStore(redis_server.url, identity=IDENTITY) for _ in range(2))
    held, release = threading.Event(), threading.Event()

    def sign_on() -> None:
        with holder.lock(30):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=sign_on)
    thread.start()
    try:
        assert held.wait(10)
        threading.Timer(1.5, release.set).start()
        with caplog.at_level(logging.WARNING), waiter.lock(30):
            pass
    finally:
        release.set()
        thread.join()
    (said,) = [r.getMessage() for r in caplog.records if "Waiting up to" in r.getMessage()]
    assert f"Waiting up to 30 s for process {os.getpid()} on {socket.gethostname()}" in said
