"""Token stores whose server or backend misbehaves: bounded time, typed errors, no traceback.

Found by an outside attack on issue 11:

* docs/sharing.md says every Redis command has a timeout, but redis-py's is per
  receive: a fake Redis trickling its ``GET`` reply held `RedisStore.read` for
  minutes with ``timeout=2``. Each command's whole exchange now has one deadline.
* A server answering the ``HELLO`` handshake with ``+OK`` made redis-py raise a raw
  ``AttributeError``; ``ticktick-auth token --store redis`` showed a traceback.
* A damaged keyrings.alt file made `KeyringStore` leak configparser's error, and
  ``ticktick-auth status --store keyring`` died with a traceback.

The fake Redis is a raw-socket server (tests/hostile.py) speaking just enough RESP.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import IDENTITY, run_cli
from hostile import Connection, HostileServer

from ticktick.errors import TokenCacheError

HELLO_RESP3 = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
TIMEOUT = 2.0
SLACK = 5.0  # a loaded CI machine; the old code was held for as long as the server liked


def read_command(conn: Connection, buffer: list[bytes]) -> list[bytes]:
    """Read one RESP command (an array of bulk strings) off the connection."""

    def line() -> bytes:
        while b"\r\n" not in buffer[0]:
            chunk = conn.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the client closed the connection")
            buffer[0] += chunk
        head, _, buffer[0] = buffer[0].partition(b"\r\n")
        return head

    args = []
    for _ in range(int(line()[1:])):
        size = int(line()[1:])
        while len(buffer[0]) < size + 2:
            buffer[0] += conn.sock.recv(65536)
        args.append(buffer[0][:size])
        buffer[0] = buffer[0][size + 2 :]
    return args


def fake_redis(
    hello: Callable[[Connection], None], get: Callable[[Connection], None]
) -> Callable[[Connection], None]:
    """A Redis answering HELLO and GET as told, and +OK to anything else."""

    def handler(conn: Connection) -> None:
        buffer = [b""]
        while True:
            name = read_command(conn, buffer)[0].upper()
            if name == b"HELLO":
                hello(conn)
            elif name == b"GET":
                get(conn)
            else:
                conn.send(b"+OK\r\n")

    return handler


def hello_ok(conn: Connection) -> None:
    conn.send(HELLO_RESP3)


def no_token(conn: Connection) -> None:
    conn.send(b"$-1\r\n")


def trickle_reply(conn: Connection) -> None:
    conn.send(b"$100000\r\n")
    conn.trickle(b"x" * 100_000, every=0.2)


def store_for(server: HostileServer, password: str = "") -> object:
    from ticktick.stores.redis import RedisStore

    auth = f":{password}@" if password else ""
    return RedisStore(f"redis://{auth}127.0.0.1:{server.port}/0", identity=IDENTITY, timeout=2)


@pytest.fixture(autouse=True)
def _needs_redis() -> None:
    pytest.importorskip("redis")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("hello", "get"),
    [
        (hello_ok, trickle_reply),
        (lambda conn: conn.trickle(HELLO_RESP3, every=0.5, forever=True), trickle_reply),
        (hello_ok, lambda conn: conn.hold()),
    ],
    ids=["trickled-get", "trickled-hello", "silent-get"],
)
def test_a_redis_command_ends_within_its_timeout(
    hello: Callable[[Connection], None], get: Callable[[Connection], None]
) -> None:
    from ticktick.stores.redis import RedisStore

    with HostileServer(fake_redis(hello, get)) as server:
        store = store_for(server)
        assert isinstance(store, RedisStore)
        started = time.monotonic()
        with pytest.raises(TokenCacheError) as caught:
            store.read()
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + SLACK, f"RedisStore.read() with timeout=2 took {elapsed:.1f} s"
    assert f"127.0.0.1:{server.port}" in str(caught.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "hello", [b"+OK\r\n", b"-ERR no\r\n", b":3\r\n", b"*1\r\n:1\r\n", b"%1\r\n+a\r\n+b\r\n"]
)
@pytest.mark.parametrize("password", ["", "hunter2-secret"])
def test_an_odd_handshake_reply_is_a_token_cache_error(hello: bytes, password: str) -> None:
    from ticktick.stores.redis import RedisStore

    server = HostileServer(fake_redis(lambda conn: conn.send(hello), no_token))
    with server:
        store = store_for(server, password)
        assert isinstance(store, RedisStore)
        with pytest.raises(TokenCacheError) as caught:
            store.read()
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.timeout(60)
def test_the_cli_shows_an_odd_redis_as_one_line(tmp_path: Path) -> None:
    url_of = "redis://127.0.0.1:{}/0".format  # no password: redis-py's AttributeError path
    with HostileServer(fake_redis(lambda conn: conn.send(b"+OK\r\n"), no_token)) as server:
        result = run_cli(
            *("token", "--store", "redis"),
            *("--redis-url", url_of(server.port), "--client-id", "cid", "--env-key="),
            cwd=tmp_path,
            timeout=30,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{server.port}" in result.stderr


# -- keyring --------------------------------------------------------------------------


def damaged_keyring(tmp_path: Path) -> dict[str, str]:
    """The environment of a keyrings.alt file keyring whose file is not an INI file."""
    pytest.importorskip("keyrings.alt")
    folder = tmp_path / "data" / "python_keyring"
    folder.mkdir(parents=True)
    (folder / "keyring_pass.cfg").write_text("this line is not an ini section\n")
    return {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
    }


def test_a_damaged_keyring_file_is_a_token_cache_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in damaged_keyring(tmp_path).items():
        monkeypatch.setenv(name, value)
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    from ticktick.stores.keyring import KeyringStore

    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        store = KeyringStore(identity=IDENTITY, lock_folder=str(tmp_path))
        for operation in (store.read, store.delete, lambda: store.write({"access_token": "t"})):
            with pytest.raises(TokenCacheError) as caught:
                operation()
            message = str(caught.value)
            assert "keyrings.alt.file.PlaintextKeyring" in message
            assert "repair or move it aside" in message
            assert caught.value.__cause__ is None
    finally:
        keyring.set_keyring(previous)


@pytest.mark.timeout(60)
def test_cli_status_with_a_damaged_keyring_file_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, **damaged_keyring(tmp_path)}
    result = run_cli(
        *("status", "--store", "keyring", "--client-id", "cid", "--env-key="),
        env=env,
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert "keyring" in result.stderr
