"""Every token store follows one interface; plus what is particular to each."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from conftest import RedisServer
from helpers import FUTURE, IDENTITY
from keyrings.alt.file import PlaintextKeyring

from ticktick import (
    ConfigurationError,
    OAuth2,
    ReauthorizationRequired,
    TokenCacheError,
    TokenDict,
    TokenFormatError,
)
from ticktick.cli import main
from ticktick.stores import EnvSource, FileStore, MemoryStore, TokenIdentity, TokenStore
from ticktick.stores.keyring import KeyringStore
from ticktick.stores.redis import RedisStore
from ticktick.testing import FakeTickTick

OTHER = TokenIdentity("ticktick.com", "client-b", "tasks:write tasks:read")


def token(access_token: str = "tok-1") -> dict[str, Any]:
    return {"access_token": access_token, "token_type": "bearer", "expire_time": FUTURE}


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlaintextKeyring]:
    """A real, file-backed keyring backend (keyrings.alt), in this test's folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "data" / "keyring_pass.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


StoreFactory = Callable[[TokenIdentity], TokenStore]


@pytest.fixture(params=["file", "memory", "keyring", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    kind = request.param
    if kind == "file":
        return lambda identity: FileStore(tmp_path / ".token-oauth", identity=identity)
    if kind == "memory":
        shared: dict[str, MemoryStore] = {}

        def memory(identity: TokenIdentity) -> TokenStore:
            # One process-wide storage, read through the identity of each caller (set
            # directly: `bind` refuses a second identity, as OAuth2 must).
            store = shared.setdefault("store", MemoryStore())
            store.identity = identity
            return store

        return memory
    if kind == "keyring":
        request.getfixturevalue("file_keyring")
        return lambda identity: KeyringStore(identity=identity)
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda identity: RedisStore(server.url, identity=identity)


def test_write_read_delete(make_store: StoreFactory) -> None:
    store = make_store(IDENTITY)
    assert store.read() is None
    store.write(token())
    stored = store.read()
    assert stored is not None
    assert stored["access_token"] == "tok-1"
    assert "issued_for" not in stored
    assert store.get_cached_token() == stored  # ticktick-py's names work on every store
    store.write_token_to_cache(token("tok-2"))
    assert store.read() == {
        **token("tok-2"),
        "readable_expire_time": stored["readable_expire_time"],
    }
    assert store.delete() is True
    assert store.read() is None
    assert store.delete() is False


def test_discard_only_removes_the_refused_token(make_store: StoreFactory) -> None:
    store = make_store(IDENTITY)
    store.write(token("newer"))
    assert store.discard("refused") is False
    assert store.read() is not None
    assert store.discard("newer") is True
    assert store.read() is None
    assert store.discard("newer") is False


def test_another_identity_does_not_get_the_token(make_store: StoreFactory) -> None:
    make_store(IDENTITY).write(token("mine"))
    assert make_store(OTHER).read() is None
    mine = make_store(IDENTITY).read()
    assert mine is not None
    assert mine["access_token"] == "mine"


def test_lock_excludes_other_threads(make_store: StoreFactory) -> None:
    order: list[str] = []
    holding = threading.Event()

    def other() -> None:
        holding.wait(5)
        with make_store(IDENTITY).lock(10):
            order.append("other")

    thread = threading.Thread(target=other)
    thread.start()
    with make_store(IDENTITY).lock(10):
        holding.set()
        time.sleep(0.3)
        order.append("first")
    thread.join(10)
    assert order == ["first", "other"]


def test_lock_wait_is_bounded(make_store: StoreFactory) -> None:
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with make_store(IDENTITY).lock(10):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    try:
        with pytest.raises(TokenCacheError, match=r"Waited 0\.2 s"), make_store(IDENTITY).lock(0.2):
            pass
    finally:
        release.set()
        thread.join(10)


def test_oauth2_uses_any_store(make_store: StoreFactory, fake: FakeTickTick) -> None:
    identity = TokenIdentity(fake.url, fake.client_id, "tasks:write tasks:read")
    first = fake.oauth2(store=make_store(identity)).get_access_token()
    second = fake.oauth2(store=make_store(identity), authorizer=None, interactive=False)
    assert second.get_access_token() == first
    assert second.token_source is not None
    assert second.token_source.startswith("cache:")
    assert fake.token_requests == 1


# -- particular stores -------------------------------------------------------------------


def test_store_identity_is_filled_in_or_checked(fake: FakeTickTick) -> None:
    store = MemoryStore()
    oauth = fake.oauth2(store=store, resolve=False)
    assert oauth.cache is store  # the caller's own object, bound to the client
    assert store.identity == oauth.identity
    with pytest.raises(ConfigurationError, match="The store is for"):
        fake.oauth2(store=MemoryStore(identity=OTHER), resolve=False)


def test_env_source(monkeypatch: pytest.MonkeyPatch) -> None:
    source = EnvSource("TOKEN_VAR")
    assert source.read() is None
    monkeypatch.setenv("TOKEN_VAR", repr(token("from-env")))
    found = source.read()
    assert found is not None
    assert found["access_token"] == "from-env"
    assert source.describe() == "env:TOKEN_VAR"
    assert source.read_only
    with pytest.raises(TokenCacheError, match="read-only"):
        source.write(token())
    with pytest.raises(TokenCacheError, match="read-only"):
        source.delete()
    assert source.discard("from-env") is False
    with source.lock(1):
        pass
    monkeypatch.setenv("TOKEN_VAR", "{'nope': 1}")
    with pytest.raises(TokenFormatError, match="TOKEN_VAR"):
        source.read()


def test_file_store_lock_is_reentrant(tmp_path: Path) -> None:
    store = FileStore(tmp_path / ".token-oauth", identity=IDENTITY)
    with store.lock(1), store.lock(1):
        store.write(token())  # takes the lock again inside
    with store.lock(0.5):
        pass


def test_keyring_without_backend_is_a_clear_error(file_keyring: PlaintextKeyring) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    with pytest.raises(TokenCacheError, match="No keyring backend is available"):
        KeyringStore(identity=IDENTITY).read()


def test_keyring_entry_is_private_to_the_app_and_corrupt_entries_are_kept(
    file_keyring: PlaintextKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    store = KeyringStore(identity=IDENTITY)
    store.write(token("kr"))
    entry = "ticktick.com cid tasks:read tasks:write"
    raw = keyring.get_password("ticktick-oauth", entry)
    assert raw is not None
    assert json.loads(raw)["issued_for"]["client_id"] == "cid"
    keyring.set_password("ticktick-oauth", entry, "{broken")
    assert store.read() is None
    assert keyring.get_password("ticktick-oauth", f"{entry} corrupt") == "{broken"
    assert "unusable" in caplog.text
    assert "keyrings.alt" in store.describe()
    with pytest.raises(ConfigurationError, match="client id"):
        _ = KeyringStore().username


def test_redis_key_ttl_and_corrupt_value(redis_server: RedisServer) -> None:
    import redis

    store = RedisStore(redis_server.url, identity=IDENTITY)
    store.write(token())
    client = redis.Redis.from_url(redis_server.url)
    assert store.key.startswith("ticktick-oauth:ticktick.com:")
    ttl = client.ttl(store.key)
    assert 99 * 86400 < ttl <= 100 * 86400  # till FUTURE
    client.set(store.key, b"\xff not json")
    assert store.read() is None
    (aside,) = client.keys(f"{store.key}:corrupt-*")
    assert client.get(aside) == b"\xff not json"
    assert "redis://127.0.0.1" in store.describe()


def test_redis_url_password_never_shown(redis_server: RedisServer) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{redis_server.port}/0"
    store = RedisStore(url, identity=IDENTITY)
    assert "hunter2" not in store.describe()
    assert "hunter2" not in " ".join(store.cli_options() or [])
    assert "hunter2" not in repr(store)


def test_cli_with_redis_store(
    redis_server: RedisServer, fake: FakeTickTick, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RedisStore(redis_server.url)
    oauth = fake.oauth2(store=store)
    access_token = oauth.get_access_token()
    common = [
        "--store",
        "redis",
        "--redis-url",
        redis_server.url,
        "--host",
        fake.url,
        "--client-id",
        fake.client_id,
    ]
    assert main(["token", *common]) == 0
    assert capsys.readouterr().out == f"{access_token}\n"
    assert main(["status", *common]) == 0
    out = capsys.readouterr().out
    assert "store:    redis" in out
    assert redis_server.url in out
    assert "--store redis" in oauth.login_command()
    assert main(["logout", *common]) == 0
    assert oauth.cache is not None
    assert oauth.cache.read() is None
    assert main(["token", "--store", "redis", "--redis-url", redis_server.url]) == 1
    assert "needs the client id" in capsys.readouterr().err


def test_cli_with_keyring_store(
    file_keyring: PlaintextKeyring, fake: FakeTickTick, capsys: pytest.CaptureFixture[str]
) -> None:
    access_token = fake.oauth2(store=KeyringStore()).get_access_token()
    common = ["--store", "keyring", "--host", fake.url, "--client-id", fake.client_id]
    assert main(["token", *common]) == 0
    assert capsys.readouterr().out == f"{access_token}\n"
    assert main(["status", *common]) == 0
    assert "store:    keyring" in capsys.readouterr().out


# -- a store given to OAuth2 is the caller's own object, bound to the client --------------
# (found by an outside attack on issue 12, when OAuth2 worked through a copy of it)


class DictStore(TokenStore):
    """A store of one's own that keeps the token in an attribute (a settings row, say)."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] | None = None
        self._lock = threading.RLock()

    def read(self) -> TokenDict | None:
        return None if self.saved is None else TokenDict(self.saved)

    def write(self, token: Mapping[str, Any]) -> None:
        self.saved = dict(token)

    def delete(self) -> bool:
        had, self.saved = self.saved is not None, None
        return had

    def discard(self, access_token: str) -> bool:
        if self.saved is not None and self.saved.get("access_token") == access_token:
            self.saved = None
            return True
        return False

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        with self._lock:
            yield

    def describe(self) -> str:
        return "my settings row"


def test_a_store_of_ones_own_gets_the_token_and_serves_the_next_client(
    fake: FakeTickTick,
) -> None:
    store = DictStore()
    token = fake.oauth2(store=store).get_access_token()
    assert store.saved is not None
    assert store.saved["access_token"] == token
    again = fake.oauth2(store=store, authorizer=None, interactive=False)
    assert again.get_access_token() == token
    assert fake.token_requests == 1


def test_advice_for_a_store_of_ones_own_names_it_not_memory(fake: FakeTickTick) -> None:
    with pytest.raises(ReauthorizationRequired) as refused:
        fake.oauth2(store=DictStore(), authorizer=None, interactive=False)
    message = str(refused.value)
    assert "memory only" not in message
    assert "cannot write to its store (my settings row)" in message


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_one_store_for_two_apps_is_refused_and_the_first_token_kept(
    fake: FakeTickTick, tmp_path: Path, kind: str
) -> None:
    fake.register_client("other-app", "other-secret", ["http://127.0.0.1:8080/"])
    store = FileStore(tmp_path / "shared") if kind == "file" else MemoryStore()
    token = fake.oauth2(store=store).get_access_token()
    with pytest.raises(ConfigurationError, match="The store is for"):
        fake.oauth2(store=store, client_id="other-app", client_secret="other-secret")
    again = fake.oauth2(store=store, authorizer=None, interactive=False)
    assert again.get_access_token() == token
    assert not [name for name in os.listdir(tmp_path) if ".foreign-" in name]


def test_a_shared_cache_file_is_warned_about_once_per_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache"
    path.write_text(json.dumps({**token(), "scope": "tasks:read tasks:write"}))
    path.chmod(0o644)
    store = FileStore(path)
    caplog.set_level(logging.WARNING, logger="ticktick")
    for _ in range(3):
        OAuth2("cid", "secret", "http://127.0.0.1:8080/", store=store, interactive=False)
    said = [r for r in caplog.records if "can be read by other users" in r.getMessage()]
    assert len(said) == 1


def test_the_users_redis_store_reads_what_oauth2_stored(
    redis_server: RedisServer, fake: FakeTickTick
) -> None:
    store = RedisStore(redis_server.url)
    access_token = fake.oauth2(store=store).get_access_token()
    stored = store.read()
    assert stored is not None
    assert stored["access_token"] == access_token
    assert redis_server.url.split("/0")[0] in store.describe()


def test_a_redis_store_without_identity_says_so_and_blames_no_server(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(redis_server.url)
    for action in (
        store.read,
        store.delete,
        lambda: store.discard("t"),
        lambda: store.write(token()),
    ):
        with pytest.raises(ConfigurationError, match="needs the client id and scope"):
            action()


def test_the_users_keyring_store_reads_what_oauth2_stored(
    file_keyring: PlaintextKeyring, fake: FakeTickTick
) -> None:
    store = KeyringStore()
    access_token = fake.oauth2(store=store).get_access_token()
    stored = store.read()
    assert stored is not None
    assert stored["access_token"] == access_token


def test_a_keyring_store_without_identity_says_so_and_not_to_repair_the_keyring(
    file_keyring: PlaintextKeyring,
) -> None:
    store = KeyringStore()
    for action in (store.read, store.delete, lambda: store.write(token())):
        with pytest.raises(ConfigurationError, match="needs the client id and scope"):
            action()
