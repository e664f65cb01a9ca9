"""Helpers shared by the tests: ports, tokens, caches, and ``ticktick-auth`` as people run it.

Plain functions and constants; the fixtures built on them live in conftest.py.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pexpect
import requests

from ticktick.stores.base import TokenIdentity
from ticktick.stores.locks import Lock

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal
    from hostile import HostileServer

    from ticktick import OpenAPI
    from ticktick.aio import AsyncOpenAPI
    from ticktick.testing import FakeTickTick

SCOPE = "tasks:read tasks:write"
"""The scope the tests ask for (TickTick's whole Open API)."""

IDENTITY = TokenIdentity("ticktick.com", "cid", SCOPE)
"""What the tests' tokens are issued for: ticktick.com, client id ``cid``, :data:`SCOPE`."""

FUTURE = int(time.time()) + 100 * 86400
"""An expiry 100 days from now (TickTick's tokens last about 180)."""


class AsyncOpenAPIFromSync:
    """An `AsyncOpenAPI` called from sync code, so that tests written for `OpenAPI` run on it.

    Its event loop runs in a thread of its own (an anyio blocking portal); each
    coroutine method is called through the portal, other attributes are the client's.
    """

    def __init__(self, portal: BlockingPortal, api: AsyncOpenAPI) -> None:
        self._portal = portal
        self._api = api

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._api, name)
        if not inspect.iscoroutinefunction(value):
            return value
        return lambda *args, **kwargs: self._portal.call(functools.partial(value, *args, **kwargs))


class ApiFor(Protocol):
    """The ``api_for`` fixture: an OpenAPI client for *server*, its token from the environment
    (so that only the API calls reach the server); *options* go to ``OAuth2``."""

    def __call__(self, server: HostileServer, **options: Any) -> OpenAPI: ...


def free_port(family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def assert_port_free(
    port: int, family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1"
) -> None:
    """Nothing listens on *port* any more (TIME_WAIT leftovers are normal TCP)."""
    with socket.socket(family) as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((host, port))
        again.listen()


def token_dict(
    access_token: str = "tok-1234-abcd", expire_time: int = FUTURE, *, readable: bool = False
) -> dict[str, Any]:
    """A token as TickTick issues it; *readable* adds ticktick-py's ``readable_expire_time``."""
    token: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": 15551999,
        "scope": SCOPE,
        "expire_time": expire_time,
    }
    if readable:
        token["readable_expire_time"] = time.asctime(time.localtime(expire_time))
    return token


def write_cache(
    path: Path, token: dict[str, Any], host: str = "ticktick.com", client_id: str = "cid"
) -> None:
    """Write *token* to the cache file *path* (0600), issued for *host* and *client_id*."""
    issued_for = {"host": host, "client_id": client_id, "scope": SCOPE}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**token, "issued_for": issued_for}))
    path.chmod(0o600)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any TICKTICK_* setting, ACCESS_TOKEN_DICT or CI,
    plus *extra*."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TICKTICK_") and key not in ("ACCESS_TOKEN_DICT", "CI")
    }
    env.update(extra)
    return env


def login_argv(fake: FakeTickTick, redirect: str, *extra: str, timeout: int = 5) -> list[str]:
    """``login`` with every value a flag: *fake*'s app and URL, *redirect*, no browser."""
    return [
        *("login", "--client-id", fake.client_id, "--redirect-uri", redirect),
        *("--host", fake.url, "--no-browser", "--timeout", str(timeout), *extra),
    ]


def run_cli(
    *argv: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    stdin: str | None = None,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    """``ticktick-auth ARGV`` as a script runs it: a subprocess with no standard input.

    *env* is its whole environment (this process's by default), with *extra* added.
    *stdin*, when given, is piped to its standard input.
    """
    return _interpreter(["-m", "ticktick", *argv], env, cwd, timeout, extra, stdin)


def start_cli(*argv: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[str]:
    """``ticktick-auth ARGV`` started with no terminal, its output and errors piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "ticktick", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def spawn_cli(
    *argv: str, env: dict[str, str], cwd: Path, timeout: float = 30, **options: Any
) -> pexpect.spawn[str]:
    """``ticktick-auth ARGV`` in a real pseudo-terminal (*options* go to ``pexpect.spawn``)."""
    return pexpect.spawn(
        sys.executable,
        ["-m", "ticktick", *argv],
        env=env,
        cwd=str(cwd),
        timeout=timeout,
        encoding="utf-8",
        **options,
    )


def read_to_authorize_url(lines: Iterable[str], fake: FakeTickTick, seen: list[str]) -> str | None:
    """Read *lines* (a CLI's standard error), keeping each in *seen*, up to the first that is
    *fake*'s authorize URL, and return that URL; None if *lines* end first."""
    for line in lines:
        seen.append(line)
        if line.strip().startswith(f"{fake.url}/oauth/authorize?"):
            return line.strip()
    return None


def follow_sign_on(url: str) -> requests.Response:
    """The person's browser at an auto-approving fake's authorize *url*: TickTick sends it on
    to the redirect URI (the loopback receiver), whose answer is returned."""
    hop = requests.get(url, allow_redirects=False, timeout=5)
    return requests.get(hop.headers["Location"], timeout=5)


def finish_cli(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """The rest of *proc*'s (`start_cli`) output and errors, once it has ended.

    Read through the same file objects a test may have iterated: ``communicate()``
    reads the pipes beneath them and would lose what their buffers already hold
    (a line printed just after the one the test waited for).
    """
    rest = {"out": "", "err": ""}

    def drain(name: str, stream: Any) -> None:
        rest[name] = stream.read() if stream is not None else ""

    readers = [
        threading.Thread(target=drain, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=drain, args=("err", proc.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    proc.wait(timeout=timeout)
    for reader in readers:
        reader.join(timeout=timeout)
    return rest["out"], rest["err"]


def scripted_login(
    cwd: Path, fake: FakeTickTick, redirect: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``login`` (`login_argv` + *extra*) with no terminal, the person's browser a thread.

    The client secret comes from ``TICKTICK_CLIENT_SECRET``. Returns the finished
    process, its standard error being everything ``login`` said.
    """
    proc = start_cli(
        *login_argv(fake, redirect, *extra),
        env={**os.environ, "TICKTICK_CLIENT_SECRET": fake.client_secret},
        cwd=cwd,
    )
    assert proc.stderr is not None
    stderr = proc.stderr
    seen: list[str] = []

    def browser() -> None:
        url = read_to_authorize_url(stderr, fake, seen)
        if url is not None:  # None: refused before the sign-on
            follow_sign_on(url)
            seen.extend(stderr)

    reader = threading.Thread(target=browser, daemon=True)
    reader.start()
    out = proc.stdout.read() if proc.stdout is not None else ""
    proc.wait(timeout=30)
    reader.join(timeout=5)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen))


def run_python(
    code: str,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    """Run *code* (dedented) in a new interpreter with *args* and no standard input; a hang
    is a failure (``TimeoutExpired``), not a hang. *env* and *extra* as for :func:`run_cli`."""
    return _interpreter(["-c", textwrap.dedent(code), *args], env, cwd, timeout, extra)


def _interpreter(
    args: list[str],
    env: dict[str, str] | None,
    cwd: Path | None,
    timeout: float,
    extra: dict[str, str],
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env={**(os.environ if env is None else env), **extra},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def token_command_imports(
    modules: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``ticktick-auth token`` in a fresh interpreter, which then prints on standard error
    the sorted list of those of *modules* it imported."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['ticktick-auth', 'token']\n"
        "try:\n"
        "    runpy.run_module('ticktick', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(set({sorted(modules)!r}) & set(sys.modules)), file=sys.stderr)\n"
    )
    return run_python(probe, cwd=cwd, env=env)


def hold_in_a_thread(lock: Lock, depth: int = 1) -> tuple[threading.Event, threading.Thread]:
    """Start a thread that holds *lock* (entered *depth* times) until the returned event is set."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with contextlib.ExitStack() as stack:
            for _ in range(depth):
                stack.enter_context(lock.hold())
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    return release, thread


_HOLD_A_FILE_LOCK = """
import sys, time
from ticktick.stores.locks import FileLock
with FileLock(sys.argv[1]).hold():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    print(time.time(), flush=True)  # when it lets go
"""


@contextlib.contextmanager
def file_lock_held_elsewhere(path: str, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the `FileLock` *path* for *seconds*, from entry on.

    After holding, it prints the ``time.time()`` it let go at on its stdout. The
    process is killed if it is still running when the block ends.
    """
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_FILE_LOCK, path, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        # killed on purpose: coverage there could only leave a corrupt data file behind
        env={k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
