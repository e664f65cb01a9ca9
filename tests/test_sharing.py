"""Many processes, one token: exactly one authorizes, the others wait and use its result."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import RedisServer, env_without_coverage

from ticktick import OAuth2, TokenCacheError
from ticktick.stores import FileStore, TokenIdentity
from ticktick.stores.redis import RedisStore
from ticktick.testing import FakeTickTick

WORKER = Path(__file__).with_name("race_worker.py")


def start_worker(
    store: str, location: str, fake: FakeTickTick, threads: int, go: Path, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), store, location, fake.url, str(threads), str(go), *extra],
        env=env_without_coverage() if "--hang" in extra else None,  # it will be killed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def results(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        lines += [json.loads(line) for line in out.splitlines()]
    return lines


def race(
    store: str, location: str, fake: FakeTickTick, tmp_path: Path, processes: int, threads: int
) -> list[dict[str, Any]]:
    go = tmp_path / "go"
    workers = [start_worker(store, location, fake, threads, go) for _ in range(processes)]
    time.sleep(1.0)  # let every worker import and build its clients
    go.write_text("go")
    return results(workers)


def test_redis_race_4_processes_8_threads_one_authorization(
    redis_server: RedisServer, fake: FakeTickTick, tmp_path: Path
) -> None:
    lines = race("redis", redis_server.url, fake, tmp_path, processes=4, threads=8)
    assert [line for line in lines if "error" in line] == []
    assert len(lines) == 32
    assert len({line["token"] for line in lines}) == 1
    assert fake.token_requests == 1
    sources = [line["source"] for line in lines]
    assert sources.count("authorization") == 1
    assert all(s.startswith("cache:redis://127.0.0.1") for s in sources if s != "authorization")


def test_file_race_8_processes_one_authorization(fake: FakeTickTick, tmp_path: Path) -> None:
    lines = race(
        "file", str(tmp_path / "shared" / ".token-oauth"), fake, tmp_path, processes=8, threads=2
    )
    assert [line for line in lines if "error" in line] == []
    assert len(lines) == 16
    assert len({line["token"] for line in lines}) == 1
    assert fake.token_requests == 1


@pytest.mark.parametrize("store", ["redis", "file"])
def test_lock_holder_killed_mid_authorization(
    store: str, request: pytest.FixtureRequest, fake: FakeTickTick, tmp_path: Path
) -> None:
    if store == "redis":
        location = request.getfixturevalue("redis_server").url
    else:
        location = str(tmp_path / ".token-oauth")
    go = tmp_path / "go"
    go.write_text("go")
    marker = tmp_path / "authorizing"
    holder = start_worker(
        store, location, fake, 1, go, "--hang", "--marker", str(marker), "--lock-ttl", "1.5"
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the first worker never started authorizing"
        time.sleep(0.05)
    waiter = start_worker(store, location, fake, 1, go, "--lock-ttl", "1.5")
    time.sleep(0.5)  # the second worker is now waiting on the lock
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    (line,) = results([waiter])
    assert "token" in line, line
    assert line["source"] == "authorization"
    assert fake.token_requests == 1  # the killed worker never exchanged its code


def test_redis_stopped_mid_run_then_restarted(
    redis_server: RedisServer, fake: FakeTickTick
) -> None:
    def client() -> OAuth2:
        return fake.oauth2(store=RedisStore(redis_server.url, timeout=1), resolve=False)

    first = client().get_access_token()
    assert client().get_access_token() == first  # shared through Redis
    redis_server.stop()
    started = time.monotonic()
    with pytest.raises(TokenCacheError) as caught:
        client().get_access_token()
    assert time.monotonic() - started < 30  # bounded by the timeouts: no hang
    message = str(caught.value)
    assert f"redis://127.0.0.1:{redis_server.port}/0" in message
    assert "No other store was used" in message
    assert fake.token_requests == 1  # no silent fallback to a fresh authorization
    redis_server.start()  # an empty Redis: the token is gone, one new authorization
    again = client()
    assert again.get_access_token() != first
    assert fake.token_requests == 2
    assert client().get_access_token() == again.get_access_token()


WRITER = """
import sys, time
from ticktick.stores import FileStore, TokenIdentity
store = FileStore(sys.argv[1], identity=TokenIdentity('ticktick.com', 'cid', 'tasks:read'))
n = 0
while True:
    n += 1
    store.write({'access_token': f'{sys.argv[2]}-{n}', 'expire_time': int(time.time()) + 99999})
"""


def test_writers_killed_at_random_moments_never_leave_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    identity = TokenIdentity("ticktick.com", "cid", "tasks:read")
    FileStore(path, identity=identity).write({"access_token": "initial", "expire_time": 2**31})
    reader = FileStore(path, identity=identity)
    rng = random.Random(20261122)
    killed = 0
    for batch in range(20):
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path), f"w{batch}.{i}"],
                env=env_without_coverage(),
            )
            for i in range(10)
        ]
        time.sleep(0.15)  # they import, then write in a loop
        for writer in writers:
            time.sleep(rng.uniform(0, 0.02))
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            killed += 1
            token = reader.read()
            assert token is not None
            assert token["access_token"] == "initial" or token["access_token"].startswith("w")
    assert killed == 200
    assert list(tmp_path.glob(".token-oauth.corrupt-*")) == []
    # Writers killed between creating a temporary file and renaming it leave it behind;
    # the next write (under the lock, so no live writer owns one) removes them.
    FileStore(path, identity=identity).write({"access_token": "final", "expire_time": 2**31})
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert reader.read() == {
        "access_token": "final",
        "expire_time": 2**31,
        "readable_expire_time": time.asctime(time.localtime(2**31)),
    }
    assert os.stat(path).st_mode & 0o777 == 0o600
