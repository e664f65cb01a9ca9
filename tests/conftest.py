"""Shared fixtures: a running fake TickTick, an isolated working folder, skip policing."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import Any, cast

import pytest
from helpers import FUTURE, ApiFor, free_port
from leak_audit import Secrets, find_leaks

from ticktick.metadata import clear_metadata_cache
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


# How the audit sees the exceptions a test observes, with pytest.raises left as it is: for the
# length of each test a profile function (sys.setprofile; coverage and debuggers use
# sys.settrace) waits for a call of the __exit__ of pytest.raises' context manager, whose
# arguments hold the exception that reached the block, and keeps its message and those of the
# causes a traceback would show with it. It only reads: what a test sees and does is unchanged.
# It watches the main thread, skips test modules that cannot reach pytest.raises (a profile
# function costs 1.7x the CPU of pure Python work, such as Hypothesis's), and stands aside (said
# at the end) when another profiler runs. Rejected after measuring: sweeping gc.garbage under
# gc.DEBUG_SAVEALL found only 55 % of these exceptions (one not bound with `as` dies by reference
# count, outside any cycle), added some no test saw, and cost 20 % more time.

_RAISES_EXITS: tuple[CodeType, ...] = tuple(
    cls.__exit__.__code__
    for cls in (
        type(pytest.raises(BaseException)),  # noqa: PT011 # never entered: only its class
        getattr(pytest, "RaisesGroup", None),  # pytest 8.4 and later
    )
    if cls is not None
)
_observed: list[str] = []  # the type of each exception seen leaving a pytest.raises block
_unobserved: list[str] = []  # tests run under another profiler


def _shown_messages(exc: BaseException | None) -> Iterator[str]:
    """The message of *exc* and of each cause or context a traceback would show with it."""
    seen: list[BaseException] = []
    while exc is not None and all(exc is not earlier for earlier in seen):
        seen.append(exc)
        try:
            yield str(exc)
        except Exception:
            yield repr(exc.args)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


def _watch_raises(frame: FrameType, event: str, arg: object) -> None:
    code = frame.f_code
    if event == "call" and code.co_name == "__exit__" and code in _RAISES_EXITS:
        exc = frame.f_locals.get(code.co_varnames[2])  # (self, exc_type, exc_val, exc_tb)
        if isinstance(exc, BaseException):
            _observed.append(type(exc).__name__)
            _messages.extend(_shown_messages(exc))


_HERE = Path(__file__).resolve().parent


@functools.cache
def _may_use_raises(module: ModuleType) -> bool:
    """Whether *module*, or a module of its folder or this one it uses, has the word `raises`.

    Errs on the side of watching; it misses only a fixture that calls pytest.raises
    (none does) in a module that lacks the word.
    """
    if module.__file__ is None:
        return True  # no file to read: watch it
    folders = {_HERE, Path(module.__file__).resolve().parent}
    pending, seen = [module], {module}
    while pending:
        module = pending.pop()
        file = getattr(module, "__file__", None)
        if file is None or Path(file).resolve().parent not in folders:
            continue
        if "raises" in Path(file).read_text(encoding="utf-8"):
            return True
        for value in vars(module).values():
            used = value if isinstance(value, ModuleType) else inspect.getmodule(value)
            if used is not None and used not in seen:
                seen.add(used)
                pending.append(used)
    return False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    module = getattr(item, "module", None)
    if module is not None and not _may_use_raises(module):
        return (yield)
    if sys.getprofile() is not None:
        _unobserved.append(item.nodeid)
        return (yield)
    sys.setprofile(_watch_raises)
    try:
        return (yield)
    finally:
        sys.setprofile(None)


def pytest_configure(config: pytest.Config) -> None:
    handler = _RecordAll(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
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
        f"\nsecrets audit: {len(_records)} log records, {len(_messages)} exception messages "
        f"(of {len(_observed)} exceptions seen by pytest.raises, with their causes), "
        f"{sum(len(f.requests) for f in _fakes)} requests to {len(_fakes)} fake servers, "
        f"{len(secrets.client_secrets)} client secrets, {len(secrets.codes)} codes, "
        f"{len(secrets.tokens)} tokens, {len(secrets.verifiers)} PKCE verifiers: "
        f"{len(leaks)} leak(s)"
    )
    if _unobserved:
        print(f"secrets audit: another profiler ran {len(_unobserved)} test(s): exceptions unseen")
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
    """Run every test in its own folder, with no token variable or CI flag inherited, and
    no server metadata kept from an earlier test (its port may be another server's now)."""
    clear_metadata_cache()
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


@pytest.fixture(params=["OpenAPI", "AsyncOpenAPI"])
def api_for(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[ApiFor]:
    """Makes Open API clients for hostile servers; see ``helpers.ApiFor``.

    Each test using it runs twice: with `OpenAPI`, and with `AsyncOpenAPI` driven
    from the test's thread (``helpers.AsyncOpenAPIFromSync``).
    """
    import json

    from anyio.from_thread import start_blocking_portal
    from helpers import AsyncOpenAPIFromSync
    from hostile import HostileServer

    from ticktick import AsyncOpenAPI, OAuth2, OpenAPI

    token = {"access_token": "api-token-from-env", "expire_time": FUTURE}
    monkeypatch.setenv("API_FOR_TOKEN", json.dumps(token))
    with contextlib.ExitStack() as stack:

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
            if request.param == "OpenAPI":
                return OpenAPI(oauth)
            portal = stack.enter_context(start_blocking_portal())
            api = AsyncOpenAPI(oauth, backoff_factor=0.5)  # as oauth.session backs off
            stack.callback(portal.call, api.aclose)
            return cast("OpenAPI", AsyncOpenAPIFromSync(portal, api))

        yield make
