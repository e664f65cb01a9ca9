"""``ticktick-auth doctor``: one test per failing line, and the all-green run.

Every run is against a real server on 127.0.0.1: the fake TickTick (its token issued
by a real sign-on), or a raw-socket server of our own for a clock far off.
"""

from __future__ import annotations

import email.utils
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import clean_env, free_port, run_cli, token_dict, write_cache
from hostile import Connection, HostileServer, answering

from ticktick.cli import main
from ticktick.testing import FakeTickTick

NOBODY = 65534
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SECRET = "Dq7vKp2Xw9Lm4Tz8Rb3N"  # a test credential, only in the environment
CLIENT_ID = "Xc4Jf9Qa2Wm7Hb5"


@dataclass
class Setup:
    """A registered app with a valid token in its cache file, and doctor's command line."""

    fake: FakeTickTick
    cache: Path
    token: str
    redirect_uri: str

    def argv(self, *extra: str, host: str | None = None) -> list[str]:
        return [
            *("doctor", "--host", host or self.fake.url, "--client-id", CLIENT_ID),
            *("--cache-path", str(self.cache), "--redirect-uri", self.redirect_uri, *extra),
        ]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    for name in [name for name in os.environ if name.startswith("TICKTICK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TICKTICK_CLIENT_SECRET", SECRET)
    cache = tmp_path / "cache" / ".token-oauth"
    with FakeTickTick(client_id=CLIENT_ID, client_secret=SECRET) as fake:
        token = fake.oauth2(cache_path=str(cache)).get_access_token()
        yield Setup(fake, cache, token, f"http://127.0.0.1:{free_port()}/")


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    """Run ``ticktick-auth ARGV``; its exit code and output, checked to hold no secret."""
    code = main(argv)
    out, err = capsys.readouterr()
    shown = out + err
    # Neither the secret nor the client id is printed, not even a part of either.
    for value in (SECRET, CLIENT_ID):
        for start in range(len(value) - 5):
            assert value[start : start + 6] not in shown, value
    return code, out


def failed(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("✗")]


def the_one_failure(code: int, out: str, start: str) -> str:
    """The only failed line, which starts with *start*, followed by its fix."""
    assert code == 1, out
    lines = failed(out)
    assert len(lines) == 1, out
    assert lines[0].startswith(f"✗ {start}"), out
    after = out.splitlines()[out.splitlines().index(lines[0]) + 1]
    assert after.startswith("    fix: "), out
    return f"{lines[0]}\n{after}"


def test_all_green_exits_0(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, setup.argv())
    assert code == 0, out
    assert not failed(out)
    marks = [line.split(" ", 1)[0] for line in out.splitlines()[1:-1]]
    assert marks == ["✓"] * 8, out
    assert "port " in out
    assert f"server metadata: PKCE methods S256; revocation at {setup.fake.url}/oauth/revoke" in out
    assert "days left" in out
    assert "clock: within" in out
    assert "200, the token is accepted" in out
    assert out.endswith("No check failed.\n")
    assert setup.token not in out
    asked = setup.fake.requests_to("/open/v1/project")
    assert [r.headers["Authorization"] for r in asked] == [f"Bearer {setup.token}"]


def test_offline_makes_no_request(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    before = len(setup.fake.requests)
    code, out = run(capsys, setup.argv("--offline"))
    assert code == 0, out
    assert "- clock: not compared (--offline)" in out
    assert "- Open API: not asked (--offline)" in out
    assert "- server metadata: not read (--offline)" in out
    assert len(setup.fake.requests) == before


def test_missing_secret(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKTICK_CLIENT_SECRET")
    line = the_one_failure(*run(capsys, setup.argv()), "client id and secret")
    assert "the client secret (TICKTICK_CLIENT_SECRET) not set" in line
    assert "client id (" not in line  # the id is there


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_bad_redirect_uri(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    bad = "http://127.0.0.1:99999/"
    argv = setup.argv()
    if how == "flag":
        argv[argv.index("--redirect-uri") + 1] = bad
    else:  # a bad variable is a failed line too, not a usage error
        del argv[argv.index("--redirect-uri") : argv.index("--redirect-uri") + 2]
        monkeypatch.setenv("TICKTICK_REDIRECT_URI", bad)
    code, out = run(capsys, argv)
    line = the_one_failure(code, out, "redirect URI")
    assert "'99999', which is not a number from 1 to 65535" in line
    assert "exactly as registered" in line
    assert "✓ port" not in out  # no port to try


def test_busy_port(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        setup.redirect_uri = f"http://localhost:{port}/callback"
        line = the_one_failure(*run(capsys, setup.argv()), f"port {port} on 127.0.0.1")
    assert "in use by another program" in line
    assert f"lsof -i :{port}" in line


def test_localhost_port_taken_on_ipv6_loopback(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another program on [::1]:P, where a browser may send ``localhost`` first: the
    port line fails for ``http://localhost:P/`` though 127.0.0.1:P is free."""
    try:
        busy = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with busy:
        port = busy.getsockname()[1]
        setup.redirect_uri = f"http://localhost:{port}/"
        line = the_one_failure(*run(capsys, setup.argv()), f"port {port} on ::1")
    assert "in use by another program (a browser may send localhost there)" in line
    code, out = run(capsys, setup.argv())
    assert code == 0, out
    assert f"✓ port {port} on 127.0.0.1 and ::1: free" in out


def test_store_mode_0644(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.cache.chmod(0o644)
    line = the_one_failure(*run(capsys, setup.argv()), "store")
    assert "has mode 0644: other users can read it" in line
    assert f"chmod 600 {setup.cache}" in line


def test_store_in_a_folder_every_user_can_write_to(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 0600 cache file in a 0777 folder without sticky bit: anyone can rename a file
    of their own over it (before it exists too). With the sticky bit (as /tmp has) it
    passes."""
    setup.cache.parent.chmod(0o777)
    line = the_one_failure(*run(capsys, setup.argv()), "store")
    assert "every user can write to (mode 0777, no sticky bit)" in line
    assert f"chmod o-w {setup.cache.parent}" in line
    setup.cache.parent.chmod(0o1777)
    code, out = run(capsys, setup.argv())
    assert code == 0, out
    setup.cache.parent.chmod(0o777)
    setup.cache.unlink()
    _, out = run(capsys, setup.argv())
    assert "✗ store: the cache file" in out


@pytest.mark.timeout(30)
def test_fifo_at_the_cache_path(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.cache.unlink()
    os.mkfifo(setup.cache)
    code, out = run(capsys, setup.argv())  # ends: a FIFO is refused, never waited on
    line = the_one_failure(code, out, "store: The token cache")
    assert f"{setup.cache} is a named pipe (FIFO), not a regular file" in line
    assert "fix: move it away (login writes a new one), or pass another --cache-path" in line
    assert (
        "- token: not looked for in the store, which cannot be read, "
        "nor in the environment variable ACCESS_TOKEN_DICT"
    ) in out


@pytest.mark.skipif(not IS_ROOT, reason="another owner needs root")
def test_cache_file_of_another_user(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    os.chown(setup.cache, NOBODY, NOBODY)
    code, out = run(capsys, setup.argv())
    line = the_one_failure(code, out, "store: The token cache")
    assert "is owned by another user (uid 65534" in line
    assert "- token: not looked for in the store" in out


def test_no_token(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.cache.unlink()
    code, out = run(capsys, setup.argv())
    line = the_one_failure(code, out, "token: none for")
    assert "ticktick-auth login --host http://127.0.0.1:" in line
    assert "with your --client-id" in line
    assert "- Open API: not asked (no valid token)" in out


def test_expired_token(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    expired = token_dict(expire_time=int(time.time()) - 3600)
    write_cache(setup.cache, expired, host=setup.fake.url, client_id=CLIENT_ID)
    code, out = run(capsys, setup.argv())
    line = the_one_failure(code, out, "token: The token in the cache file")
    assert "expired on" in line
    assert "ticktick-auth login" in line
    assert "- Open API: not asked (no valid token)" in out


def test_unreadable_token_variable(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_DICT", "{'token': 'not a token dict'}")
    line = the_one_failure(*run(capsys, setup.argv()), "token: The environment variable")
    assert "fix: fix or unset ACCESS_TOKEN_DICT" in line


@pytest.mark.parametrize(("offset", "direction"), [(-3 * 3600, "ahead of"), (600, "behind")])
def test_clock_skew(
    setup: Setup, capsys: pytest.CaptureFixture[str], offset: int, direction: str
) -> None:
    date = email.utils.formatdate(time.time() + offset, usegmt=True)
    with HostileServer(answering(200, b"[]", {"Date": date})) as server:
        write_cache(setup.cache, token_dict(), host=server.url, client_id=CLIENT_ID)
        code, out = run(capsys, setup.argv(host=server.url))
    line = the_one_failure(code, out, "clock: this machine is")
    assert f"{direction} the server ({server.url}); more than 60 s off" in line
    assert ("(3.0 h)" if offset < 0 else "(10 min)") in line
    assert "timedatectl set-ntp true" in line
    assert "✓ Open API: GET " in out  # the raw server answers 200 to the token


def test_token_refused_by_the_api(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.fake.revoke(setup.token)
    code, out = run(capsys, setup.argv())
    line = the_one_failure(code, out, f"Open API: GET {setup.fake.url}/open/v1/project: 401")
    assert "revoked" in line
    assert "ticktick-auth login" in line
    assert "✓ token: in the cache file" in out  # the file alone cannot tell


def _stall_after_the_date(conn: Connection) -> None:
    """``HTTP/1.1 200 OK`` and a ``Date`` header, then nothing: the headers never end."""
    conn.read_request()
    date = email.utils.formatdate(usegmt=True).encode()
    conn.send(b"HTTP/1.1 200 OK\r\nDate: " + date + b"\r\n")
    conn.hold()


@pytest.mark.timeout(120)
def test_a_server_that_stalls_after_its_status_line_fails(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """The deadline cuts the answer after its Date header: what came is no 200 to pass
    (the library's own requests raise for it), so the clock and Open API lines fail."""
    with HostileServer(_stall_after_the_date) as server:
        write_cache(setup.cache, token_dict(), host=server.url, client_id=CLIENT_ID)
        code, out = run(capsys, setup.argv(host=server.url))
    assert code == 1, out
    api = next(line for line in out.splitlines() if "Open API" in line)
    assert api.startswith("✗"), out
    assert "no complete answer" in api
    assert "✗ clock: no complete answer" in out


@pytest.mark.parametrize("command", ["doctor", "status"])
def test_an_ascii_terminal_shows_a_path_with_a_non_ascii_letter(
    tmp_path: Path, command: str
) -> None:
    """On an ASCII terminal doctor marks its lines OK/FAIL/SKIP; a cache path with an
    ``é`` is shown escaped, not a UnicodeEncodeError traceback (status alike)."""
    cache = tmp_path / "café" / ".token-oauth"
    extra = ["--offline", "--redirect-uri", f"http://127.0.0.1:{free_port()}/"]
    ran = run_cli(
        *(command, "--client-id", CLIENT_ID, "--cache-path", str(cache)),
        *(extra if command == "doctor" else []),
        env=clean_env(TICKTICK_CLIENT_SECRET=SECRET, PYTHONIOENCODING="ascii"),
        cwd=tmp_path,
    )
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "caf\\xe9" in ran.stdout, ran.stdout
    if command == "doctor":
        assert "OK   store: no cache file" in ran.stdout, ran.stdout
