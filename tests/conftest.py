"""Shared fixtures: a running fake TickTick, an isolated working folder, skip policing."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import FUTURE, ApiFor, free_port
from leak_audit import Secrets, find_leaks

from ticktick.testing import FakeTickTick

# -- the secrets audit (see leak_audit.py): collected for the whole run, checked at the end

_records: list[tuple[str, str]] = []
_messages: list[str] = []
_fakes: list[FakeTickTick] = []


class _RecordAll(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _records.append((record.name, record.getMessage()))
        except Exception:
            _records.append((record.name, str(record.msg)))


_original_raises = pytest.raises


class _RecordingRaises:
    """Wraps ``pytest.raises`` to keep the message of every exception a test observes."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.info: Any = None

    def __enter__(self) -> Any:
        self.info = self.context.__enter__()
        return self.info

    def __exit__(self, *exc_info: Any) -> Any:
        result = self.context.__exit__(*exc_info)
        if exc_info[1] is not None:
            _messages.append(str(exc_info[1]))
        return result


def _recording_raises(*args: Any, **kwargs: Any) -> Any:
    context = _original_raises(*args, **kwargs)
    return _RecordingRaises(context) if hasattr(context, "__enter__") else context


def pytest_configure(config: pytest.Config) -> None:
    handler = _RecordAll(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    pytest.raises = _recording_raises
    FakeTickTick.on_start.append(_fakes.append)


# With TICKTICK_FAIL_ON_SKIP=1 (set by .ci/run) a skipped test fails the run: CI must
# prove that every test ran, not that it was skipped for want of a tool.
_FAIL_ON_SKIP = os.environ.get("TICKTICK_FAIL_ON_SKIP") == "1"
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _FAIL_ON_SKIP and _skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nTICKTICK_FAIL_ON_SKIP=1 and {len(_skipped)} test(s) skipped: {_skipped}")
    secrets = Secrets.of(_fakes)
    leaks = find_leaks(secrets, _records, _messages, _fakes)
    print(
        f"\nsecrets audit: {len(_records)} log records, {len(_messages)} exception messages, "
        f"{sum(len(f.requests) for f in _fakes)} requests to {len(_fakes)} fake servers, "
        f"{len(secrets.client_secrets)} client secrets, {len(secrets.codes)} codes, "
        f"{len(secrets.tokens)} tokens: {len(leaks)} leak(s)"
    )
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        for leak in leaks[:50]:
            print(f"LEAK: {leak}")


@pytest.fixture
def fake() -> Iterator[FakeTickTick]:
    """A fake TickTick server on a free loopback port."""
    with FakeTickTick() as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run every test in its own folder, with no token variable or CI flag inherited."""
    monkeypatch.chdir(tmp_path)
    for name in ("ACCESS_TOKEN_DICT", "CI", "BROWSER", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    """Where the token cache goes in a test."""
    return tmp_path / "cache" / ".token-oauth"


class RedisServer:
    """A real redis-server on a free loopback port, with no persistence."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None


def env_without_coverage() -> dict[str, str]:
    """The environment for a subprocess that is killed or starved on purpose: coverage
    measurement there could only leave a corrupt data file behind."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server (Debian's redis-server package), stopped after the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: apt-get install redis-server")
    server = RedisServer(binary, tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- fixtures shared by several test files (their plain helpers are in helpers.py) ----------


@pytest.fixture
def api_for(monkeypatch: pytest.MonkeyPatch) -> ApiFor:
    """Makes OpenAPI clients for hostile servers; see ``helpers.ApiFor``."""
    import json

    from hostile import HostileServer

    from ticktick import OAuth2, OpenAPI

    token = {"access_token": "api-token-from-env", "expire_time": FUTURE}
    monkeypatch.setenv("API_FOR_TOKEN", json.dumps(token))

    def make(server: HostileServer, **options: Any) -> OpenAPI:
        oauth = OAuth2(
            "client-id",
            "client-secret",
            "http://127.0.0.1:8080/",
            env_key="API_FOR_TOKEN",
            cache_path=None,
            host=server.url,
            interactive=False,
            **options,
        )
        return OpenAPI(oauth)

    return make
