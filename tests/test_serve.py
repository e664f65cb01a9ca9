"""``python -m ticktick.testing serve``: the fake TickTick in the foreground, as a process.

Each test starts it as a subprocess, reads the lines it prints, requests its URLs, and
stops it with a signal: it ends with exit 0 and frees its port.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from helpers import assert_port_free, clean_env, free_port, run_cli, token_dict, write_cache

from ticktick import OAuth2
from ticktick.testing import approve

SCOPE = "tasks:read tasks:write"


@dataclass
class Served:
    """A running ``serve``: its process, the lines it printed, and what they said."""

    process: subprocess.Popen[str]
    lines: list[str]
    url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    login: str

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        """Send *signum*; return the exit code and the rest of the output."""
        self.process.send_signal(signum)
        out, _ = self.process.communicate(timeout=15)
        assert self.process.returncode is not None
        return self.process.returncode, out


def start_serve(*options: str) -> Served:
    """``python -m ticktick.testing serve OPTIONS``, read up to its last introductory line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ticktick.testing", "serve", *options],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("then: "):
            break
    else:
        process.wait(timeout=15)
        raise AssertionError(f"serve ended early: {lines}")
    text = "\n".join(lines)

    def value(pattern: str) -> str:
        found = re.search(pattern, text)
        assert found is not None, text
        return found.group(1)

    login = " ".join(line.strip().rstrip("\\").strip() for line in lines[-4:-1])
    return Served(
        process,
        lines,
        url=value(r"running at (\S+) \(Ctrl-C to stop\)"),
        client_id=value(r"client id: +(\S+)"),
        client_secret=value(r"client secret: +(\S+)"),
        redirect_uri=value(r"redirect URI: +(\S+)"),
        login=login,
    )


@pytest.fixture
def served() -> Iterator[list[Served]]:
    """The servers a test starts, killed at its end if still running."""
    started: list[Served] = []
    yield started
    for one in started:
        if one.process.poll() is None:
            one.process.kill()
            one.process.wait(timeout=15)


def _authorize_url(server: Served, state: str = "st-1") -> str:
    query = {
        "client_id": server.client_id,
        "redirect_uri": server.redirect_uri,
        "response_type": "code",
        "scope": SCOPE,
        "state": state,
    }
    return f"{server.url}/oauth/authorize?{urlencode(query)}"


def test_serve_prints_what_to_use_and_serves_the_consent_page(served: list[Served]) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    server = start_serve("--redirect-uri", redirect)
    served.append(server)
    assert server.url.startswith("http://127.0.0.1:")
    assert server.redirect_uri == redirect
    assert server.login == (
        f"export TICKTICK_CLIENT_SECRET={server.client_secret} ticktick-auth login "
        f"--host {server.url} --client-id {server.client_id} --redirect-uri {redirect}"
    )
    page = requests.get(_authorize_url(server), timeout=5)
    assert page.status_code == 200
    assert 'id="allow"' in page.text
    form = {**dict(parse_qsl(urlsplit(_authorize_url(server)).query)), "decision": "allow"}
    answer = requests.post(
        f"{server.url}/oauth/authorize", data=form, allow_redirects=False, timeout=5
    )
    location = urlsplit(answer.headers["Location"])
    code = dict(parse_qsl(location.query))["code"]
    token = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
        auth=(server.client_id, server.client_secret),
        timeout=5,
    )
    assert token.status_code == 200
    assert token.json()["scope"] == SCOPE
    port = urlsplit(server.url).port
    assert port is not None
    code_, rest = server.stop(signal.SIGINT)
    assert code_ == 0
    assert "Stopped the fake TickTick." in rest
    assert "Sign-on approved" in rest
    assert f"Issued a token to {server.client_id}, scope {SCOPE}." in rest
    assert token.json()["access_token"] not in rest
    assert code not in rest
    assert "Traceback" not in rest
    assert_port_free(port)


def test_serve_on_a_given_port_and_name_with_auto_approve_stops_on_sigterm(
    served: list[Served],
) -> None:
    port = free_port()
    server = start_serve("--port", str(port), "--host-name", "localhost", "--auto-approve")
    served.append(server)
    assert server.url == f"http://localhost:{port}"
    assert server.redirect_uri == "http://127.0.0.1:8080/"
    assert "approves every sign-on at once" in "\n".join(server.lines)
    hop = requests.get(_authorize_url(server), allow_redirects=False, timeout=5)
    assert hop.status_code == 302
    assert hop.headers["Location"].startswith("http://127.0.0.1:8080/?code=")
    assert server.stop(signal.SIGTERM)[0] == 0
    assert_port_free(port)


def test_serve_on_a_busy_port_says_so(served: list[Served]) -> None:
    server = start_serve()
    served.append(server)
    port = str(urlsplit(server.url).port)
    again = subprocess.run(
        [sys.executable, "-m", "ticktick.testing", "serve", "--port", port],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
        check=False,
    )
    assert again.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in again.stderr
    assert "Pass another --port" in again.stderr
    assert server.stop()[0] == 0


def test_the_printed_login_command_passes_a_redirect_uri_with_a_query_whole(
    tmp_path: Path, served: list[Served]
) -> None:
    """Pasted into a POSIX shell, the printed lines pass the URI as one argument (an
    unquoted ``&`` would put the command in the background and cut the URI there)."""
    redirect = f"http://127.0.0.1:{free_port()}/callback?app=1&next=2"
    server = start_serve("--redirect-uri", redirect)
    served.append(server)
    assert server.stop()[0] == 0
    script = "\n".join(line.strip() for line in server.lines[-4:-1])
    # A stand-in for ticktick-auth on PATH: prints each argument on a line of its own.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ticktick-auth").write_text("#!/bin/sh\nprintf 'ARG:%s\\n' \"$@\"\n")
    (bin_dir / "ticktick-auth").chmod(0o755)
    ran = subprocess.run(
        ["sh", "-c", script + "\nwait\n"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**clean_env(), "PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )
    args = [line[4:] for line in ran.stdout.splitlines() if line.startswith("ARG:")]
    assert args[args.index("--redirect-uri") + 1 :] == [redirect], (script, ran)


def test_a_scope_a_caller_chose_is_printed_with_its_control_characters_escaped(
    served: list[Served],
) -> None:
    server = start_serve("--auto-approve")
    served.append(server)
    scope = "tasks:read\x1b]0;owned\x07\x1b[2J"
    hop = requests.get(
        _authorize_url(server).replace(urlencode({"scope": SCOPE}), urlencode({"scope": scope})),
        allow_redirects=False,
        timeout=5,
    )
    code = dict(parse_qsl(urlsplit(hop.headers["Location"]).query))["code"]
    answer = requests.post(
        f"{server.url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": server.redirect_uri,
        },
        auth=(server.client_id, server.client_secret),
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["scope"] == scope
    code_, rest = server.stop()
    assert code_ == 0
    assert "scope tasks:read\\x1b]0;owned\\x07\\x1b[2J." in rest
    assert "\x1b" not in rest
    assert "\x07" not in rest


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--host-name", "example.org"], "invalid choice: 'example.org'"),
        (["--port", "70000"], "70000 is not a port from 0 to 65535"),
        (["--redirect-uri", "not a url"], "contains a space"),
    ],
)
def test_serve_refuses_bad_options(options: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ticktick.testing", "serve", *options],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_the_commands_after_login_use_the_host_recorded_with_the_token(
    tmp_path: Path, served: list[Served]
) -> None:
    """With no --host, status/token/export/logout read the host recorded in the cache file;
    --host before the command works as after it."""
    redirect = f"http://127.0.0.1:{free_port()}/"
    server = start_serve("--redirect-uri", redirect, "--auto-approve")
    served.append(server)
    env = clean_env(TICKTICK_CLIENT_SECRET=server.client_secret)
    cache = tmp_path / ".token-oauth"
    oauth = OAuth2(
        client_id=server.client_id,
        client_secret=server.client_secret,
        redirect_uri=redirect,
        host=server.url,
        cache_path=cache,
        authorizer=approve,
    )
    token = oauth.get_access_token()
    status = run_cli("status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"host:     {server.url}" in status.stdout
    assert run_cli("token", env=env, cwd=tmp_path).stdout == f"{token}\n"
    exported = run_cli("export", "--format", "json", env=env, cwd=tmp_path)
    assert exported.returncode == 0
    assert token in exported.stdout
    before = run_cli("--host", server.url, "status", env=env, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    # TICKTICK_HOST or --host still wins: the token is not for ticktick.com.
    other = run_cli("token", env={**env, "TICKTICK_HOST": "ticktick.com"}, cwd=tmp_path)
    assert other.returncode == 1
    assert run_cli("token", "--host", "dida365.com", env=env, cwd=tmp_path).returncode == 1
    out = run_cli("logout", env=env, cwd=tmp_path)
    assert out.returncode == 0
    assert "Removed the cached token" in out.stdout
    assert not cache.exists()
    gone = run_cli("status", env=env, cwd=tmp_path)
    assert gone.returncode == 1
    assert "No token for ticktick.com" in gone.stdout
    assert server.stop()[0] == 0


@pytest.mark.parametrize(
    ("recorded", "says"),
    [
        ("http://example.org", "No token for ticktick.com"),  # plain http off loopback
        ("not a host", "No token for ticktick.com"),
        (None, "status:   valid"),  # no host recorded: ticktick.com, as ticktick-py wrote it
    ],
)
def test_an_unusable_recorded_host_leaves_the_default(
    tmp_path: Path, recorded: str | None, says: str
) -> None:
    cache = tmp_path / ".token-oauth"
    if recorded is None:
        cache.write_text(json.dumps(token_dict()))
        cache.chmod(0o600)
    else:
        write_cache(cache, token_dict(), host=recorded)
    status = run_cli("status", env=clean_env(), cwd=tmp_path)
    assert says in status.stdout, status.stdout + status.stderr
    assert "--host ticktick.com" in status.stdout or recorded is None


def test_a_host_from_a_planted_cache_file_is_not_adopted(tmp_path: Path) -> None:
    """A cache file that came with a checkout, recording a host that is neither a region
    nor this machine: status's advice names ticktick.com, token hands out nothing, and one
    line on stderr says how to use that host on purpose."""
    cache = tmp_path / ".token-oauth"
    write_cache(cache, token_dict("planted-0000", int(time.time()) - 86400), "https://evil.example")
    status = run_cli("status", env=clean_env(), cwd=tmp_path)
    assert status.returncode == 1
    assert "evil.example" not in status.stdout, status.stdout
    assert "--host ticktick.com" in status.stdout
    assert status.stderr.count("pass --host https://evil.example to use it") == 1, status.stderr
    write_cache(cache, token_dict("planted-0000"), "https://evil.example")
    token = run_cli("token", env=clean_env(), cwd=tmp_path)
    assert token.returncode == 1
    assert "planted-0000" not in token.stdout


@pytest.mark.parametrize(
    "recorded", ["dida365.com", "http://localhost:34567", "http://[::1]:34567"]
)
def test_a_region_or_loopback_host_recorded_in_the_cache_file_is_adopted(
    tmp_path: Path, recorded: str
) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict("kept-1234"), recorded)
    token = run_cli("token", env=clean_env(), cwd=tmp_path)
    assert (token.returncode, token.stdout, token.stderr) == (0, "kept-1234\n", "")


def test_the_token_variable_keeps_the_default_host_and_its_expiry_alarm(
    tmp_path: Path,
) -> None:
    """``status --min-days 7`` in CI: ACCESS_TOKEN_DICT (no host recorded: ticktick.com)
    has expired, and a leftover cache file of the fake server holds a valid token. The
    variable is what is checked: the alarm rings (exit 1)."""
    write_cache(tmp_path / ".token-oauth", token_dict(), "http://127.0.0.1:34567")
    expired = json.dumps(token_dict("real-expired", int(time.time()) - 3600))
    status = run_cli(
        "status", "--min-days", "7", env=clean_env(ACCESS_TOKEN_DICT=expired), cwd=tmp_path
    )
    assert status.returncode == 1, status.stdout
    assert "127.0.0.1" not in status.stdout


_COUNT_OPENS = """
import os, sys
path = os.path.abspath(sys.argv[1])
opened = []
def count(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        if os.path.abspath(os.fsdecode(args[0])) == path:
            opened.append(args[0])
sys.addaudithook(count)
from ticktick.cli import main
code = main(["token"])
print("opens", len(opened), file=sys.stderr)
sys.exit(code)
"""


def test_token_without_host_reads_the_cache_file_once(tmp_path: Path) -> None:
    cache = tmp_path / ".token-oauth"
    write_cache(cache, token_dict("tok-once-1234"), host="http://127.0.0.1:1")
    result = subprocess.run(
        [sys.executable, "-c", _COUNT_OPENS, str(cache)],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tok-once-1234"
    assert "opens 1" in result.stderr, result.stderr  # the recorded host and the token
