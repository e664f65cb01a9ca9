"""The ticktick-auth command: in-process, in a real pseudo-terminal, and with no terminal."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest
import requests
from helpers import (
    clean_env,
    follow_sign_on,
    free_port,
    login_argv,
    read_to_authorize_url,
    run_cli,
    scripted_login,
    spawn_cli,
    start_cli,
    token_command_imports,
    token_dict,
    write_cache,
)

from ticktick.cli import main
from ticktick.testing import FakeTickTick


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- token / status / export / logout ---------------------------------------------------


def test_token_prints_only_the_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict())
    assert run(capsys, "token") == (0, "tok-1234-abcd\n", "")


def test_token_from_the_environment_comes_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict())
    monkeypatch.setenv("ACCESS_TOKEN_DICT", repr(token_dict("from-env")))
    assert run(capsys, "token")[1] == "from-env\n"
    assert run(capsys, "token", "--env-key", "")[1] == "tok-1234-abcd\n"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "No token found in ACCESS_TOKEN_DICT or cache file .token-oauth"),
        ("expired", "expired on"),
        ("corrupt", "No token found"),
        ("foreign", "No token found"),
        ("bad-env", "The environment variable ACCESS_TOKEN_DICT has no 'access_token'"),
    ],
)
def test_token_failures_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    message: str,
) -> None:
    cache = tmp_path / ".token-oauth"
    if setup == "expired":
        write_cache(cache, token_dict(expire_time=int(time.time()) - 10))
    elif setup == "corrupt":
        cache.write_text("{not json")
    elif setup == "foreign":  # for another host than the one asked for
        write_cache(cache, token_dict(), host="dida365.com")
        monkeypatch.setenv("TICKTICK_HOST", "ticktick.com")
    elif setup == "bad-env":
        monkeypatch.setenv("ACCESS_TOKEN_DICT", "{'token': 'tok-secret-5678'}")
    code, out, err = run(capsys, "token")
    assert code == 1
    assert out == ""
    assert message in err
    assert err.count("\n") == 1 or setup == "corrupt"  # corrupt: plus the set-aside warning
    assert "ticktick-auth login" in err or setup == "bad-env"
    assert "tok-" not in err


def test_token_with_client_id_checks_the_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict())
    assert run(capsys, "token", "--client-id", "cid")[0] == 0
    assert run(capsys, "token", "--client-id", "other")[0] == 1


def test_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict(expire_time=int(time.time()) + 10 * 86400))
    code, out, _ = run(capsys, "status", "--client-id", "cid")
    assert code == 0
    assert "source:   cache file .token-oauth" in out
    assert "host:     ticktick.com" in out
    assert "client:   cid" in out
    assert "scope:    tasks:read tasks:write" in out
    assert "(10.0 days left)" in out or "(9.9 days left)" in out
    assert "status:   valid" in out
    assert "tok-1234" not in out
    code, out, _ = run(capsys, "status", "--min-days", "30")
    assert code == 3
    assert "fewer than 30 days left" in out


def test_status_expired_missing_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "status")[0] == 1
    write_cache(tmp_path / ".token-oauth", token_dict(expire_time=int(time.time()) - 10))
    code, out, _ = run(capsys, "status")
    assert code == 1
    assert "EXPIRED" in out
    monkeypatch.setenv("ACCESS_TOKEN_DICT", "{'access_token': 'x', 'expires_in': 100}")
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "source:   environment variable ACCESS_TOKEN_DICT" in out
    assert "expires:  unknown" in out


@pytest.mark.parametrize("fake_line", ["\nstatus:   valid", "\rstatus:   valid", "\x1b[2K\x1b[1G"])
def test_status_shows_a_field_with_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_line: str
) -> None:
    """A stored scope with a line break or an escape sequence cannot fake a line."""
    expired = token_dict(expire_time=int(time.time()) - 10)
    write_cache(tmp_path / ".token-oauth", {**expired, "scope": f"tasks:read{fake_line}"})
    code, out, _ = run(capsys, "status")
    assert code == 1
    assert "\x1b" not in out
    assert "\r" not in out
    lines = out.splitlines()
    assert "status:   valid" not in lines
    assert f"scope:    {'tasks:read' + fake_line!r}" in lines
    assert lines[-1].startswith("status:   EXPIRED")


@pytest.mark.parametrize("fmt", ["env-dict", "json", "dotenv"])
def test_export(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    import ast

    write_cache(tmp_path / ".token-oauth", token_dict())
    code, out, err = run(capsys, "export", "--format", fmt)
    assert code == 0
    assert "This is a secret" in err
    if fmt == "env-dict":
        value = ast.literal_eval(out)
    elif fmt == "json":
        value = json.loads(out)
    else:
        name, _, quoted = out.strip().partition("=")
        assert name == "ACCESS_TOKEN_DICT"
        value = json.loads(quoted.strip("'"))
    assert {key: value[key] for key in token_dict()} == token_dict()
    assert set(value) == {*token_dict(), "readable_expire_time"}  # ticktick-py's shape


@pytest.mark.timeout(60)
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_dotenv_export_survives_sourcing_a_quote_in_any_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ' in a stored field (the token endpoint's answer is kept as given) stays quoted."""
    marker = tmp_path / "pwned"
    scope = f"tasks:read tasks:write'; touch {marker}; : '"
    write_cache(tmp_path / ".token-oauth", {**token_dict(), "scope": scope})
    code, out, _ = run(capsys, "export", "--format", "dotenv")
    assert code == 0
    (tmp_path / ".env").write_text(out)
    sourced = subprocess.run(
        ["bash", "-c", 'set -a; . ./.env; printf %s "$ACCESS_TOKEN_DICT"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert not marker.exists(), f"sourcing the exported .env ran a command: {out!r}"
    assert json.loads(sourced.stdout)["scope"] == scope  # bash reads the JSON as written
    (tmp_path / ".token-oauth").unlink()
    monkeypatch.setenv("ACCESS_TOKEN_DICT", out.strip().partition("=")[2])  # as docker keeps it
    assert run(capsys, "token")[1] == "tok-1234-abcd\n"


def test_export_round_trips_through_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict())
    exported = run(capsys, "export")[1]
    (tmp_path / ".token-oauth").unlink()
    monkeypatch.setenv("ACCESS_TOKEN_DICT", exported)
    assert run(capsys, "token")[1] == "tok-1234-abcd\n"


def test_export_expired_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict(expire_time=1))
    assert run(capsys, "export")[0] == 1


def test_logout_removes_only_the_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / ".token-oauth"
    write_cache(cache, token_dict())
    other = tmp_path / ".token-oauth.corrupt-keep"
    other.write_text("kept")
    code, out, _ = run(capsys, "logout")
    assert (code, out) == (0, "Removed the cached token (cache file .token-oauth).\n")
    assert not cache.exists()
    assert other.exists()
    assert run(capsys, "logout")[1] == "No cached token in cache file .token-oauth.\n"


@pytest.mark.parametrize("command", [[], ["login"], ["token"], ["status"], ["export"], ["logout"]])
def test_help_everywhere(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: ticktick-auth" in result.stdout


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["status", "--min-days", "soon"])
    assert caught.value.code == 2


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from ticktick.cli.output import Failure

    with pytest.raises(Failure):
        main(["token", "--debug"])


def test_token_does_not_import_requests(tmp_path: Path) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict())
    result = token_command_imports(["requests", "urllib3"], cwd=tmp_path)
    assert result.stdout == "tok-1234-abcd\n"
    assert result.stderr.strip() == "[]"


# -- login --------------------------------------------------------------------------------


@pytest.fixture
def desktop(tmp_path: Path) -> dict[str, str]:
    """An environment with a 'browser' and a 'clipboard' that record what they are given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    browser = bin_dir / "record-browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {tmp_path}/opened.txt\n')
    clip = bin_dir / "xclip"
    clip.write_text(f"#!/bin/sh\ncat > {tmp_path}/clipboard.txt\n")
    for tool in (browser, clip):
        tool.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TICKTICK_CLIENT_SECRET")}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
            "BROWSER": f"{browser} %s",
            "DISPLAY": ":99",
            "TERM": "dumb",
        }
    )
    return env


def _approve(fake: FakeTickTick, url: str) -> str:
    """Click Allow on the fake's page for *url*; return where the browser is sent."""
    from urllib.parse import parse_qsl, urlsplit

    form = {**dict(parse_qsl(urlsplit(url).query)), "decision": "allow"}
    answer = requests.post(
        f"{fake.url}/oauth/authorize", data=form, allow_redirects=False, timeout=5
    )
    return answer.headers["Location"]


def _login_in_pty(
    fake: FakeTickTick, tmp_path: Path, env: dict[str, str], redirect: str, *options: str
) -> pexpect.spawn[str]:
    """``login`` in a real pseudo-terminal, every prompt answered up to the first offer.

    *options* default to a cache file at ``c/tok`` under *tmp_path*.
    """
    options = options or ("--cache-path", str(tmp_path / "c" / "tok"))
    child = spawn_cli("login", "--host", fake.url, *options, env=env, cwd=tmp_path)
    child.expect_exact("Enter your client id: ")
    child.sendline(fake.client_id)
    child.expect_exact("Enter your client secret: ")
    child.sendline(fake.client_secret)
    child.expect_exact("Enter your OAuth redirect URL: ")
    child.sendline(redirect)
    child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
    child.expect_exact("Open the browser to sign on? [Y/n]: ")
    child.sendline("")
    child.expect_exact("Redirected URL (or code): ")
    opened = (tmp_path / "opened.txt").read_text().strip()
    assert opened.startswith(f"{fake.url}/oauth/authorize?")
    child.sendline(_approve(fake, opened))
    return child


def test_login_in_a_pty_answers_every_prompt_and_saves_to_a_file(
    tmp_path: Path, desktop: dict[str, str]
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child = _login_in_pty(fake, tmp_path, desktop, redirect)
        child.expect_exact("Do you want the token to be copied to the clipboard? [Y/n]: ")
        child.sendline("n")
        child.expect_exact("Do you want to print the token and its expiration? [Y/n]: ")
        child.sendline("n")
        child.expect_exact("Enter the file path to save the token and expiration (empty to skip): ")
        saved = tmp_path / "new-folder" / "token.json"
        child.sendline(str(saved))
        child.expect_exact("(mode 0600)")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        transcript = child.before or ""
        (token,) = fake.issued
    assert json.loads(saved.read_text())["access_token"] == token
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    cache = tmp_path / "c" / "tok"
    assert json.loads(cache.read_text())["access_token"] == token
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert fake.client_secret not in transcript


def test_login_in_a_pty_copies_or_prints(tmp_path: Path, desktop: dict[str, str]) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child = _login_in_pty(fake, tmp_path, desktop, redirect)
        child.expect_exact("Do you want the token to be copied to the clipboard? [Y/n]: ")
        child.sendline("y")
        child.expect_exact("Copied the token and its expiration (two lines) to the clipboard.")
        child.expect(pexpect.EOF)
        (token,) = fake.issued
        copied = (tmp_path / "clipboard.txt").read_text().split("\n")
        assert copied[0] == token
        assert int(copied[1]) > time.time() + 170 * 86400

        desktop["PATH"] = os.environ["PATH"]  # no clipboard tool: the offer is skipped
        (tmp_path / "opened.txt").unlink()
        child = _login_in_pty(fake, tmp_path, desktop, redirect)
        child.expect_exact("Do you want to print the token and its expiration? [Y/n]: ")
        child.sendline("y")
        child.expect(r"access_token: (\S+)")
        assert isinstance(child.match, re.Match)
        printed = child.match.group(1)
        child.expect(r"expire_time:  (\d+)")
        child.expect(pexpect.EOF)
        assert printed in fake.issued
        assert printed != token
        all_output = child.before or ""
        assert fake.client_secret not in all_output


@pytest.mark.timeout(90)
@pytest.mark.parametrize("answer", ["none-in-time", "input-closed", "declined"])
def test_login_prints_a_token_it_could_not_store_whatever_the_offers_get(
    tmp_path: Path, desktop: dict[str, str], answer: str
) -> None:
    """The store write fails (a folder is in the way); the offers time out, lose their input
    or are declined: the token, kept nowhere else, is printed before the command ends."""
    cache = tmp_path / "tok"
    cache.mkdir()
    redirect = f"http://127.0.0.1:{free_port()}/"
    desktop["PATH"] = os.environ["PATH"]  # no clipboard tool: the print offer comes first
    desktop.update(TICKTICK_CLIENT_ID="cid", TICKTICK_CLIENT_SECRET="sekrit-value-123")
    desktop["TICKTICK_REDIRECT_URI"] = redirect
    with FakeTickTick(
        client_id="cid", client_secret="sekrit-value-123", redirect_uris=[redirect]
    ) as fake:
        child = spawn_cli(
            *("login", "--host", fake.url, "--no-browser", "--no-capture"),
            *("--cache-path", str(cache), "--timeout", "3"),
            env=desktop,
            cwd=tmp_path,
        )
        transcript = io.StringIO()
        child.logfile_read = transcript
        child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        assert isinstance(child.match, re.Match)
        url = child.match.group(1)
        child.expect_exact("Redirected URL (or code): ")
        child.sendline(_approve(fake, url))
        child.expect_exact("Do you want to print the token and its expiration? [Y/n]: ")
        if answer == "input-closed":
            child.sendeof()
        elif answer == "declined":
            child.sendline("n")
            child.expect_exact("(empty to skip): ")
            child.sendline("")
        child.expect(pexpect.EOF, timeout=40)  # "none-in-time": nobody answers
        child.close()
        output = transcript.getvalue()
        (token,) = fake.issued
    assert child.exitstatus == 0, output
    assert f'"access_token": "{token}"' in output, output
    assert list(cache.iterdir()) == []
    # Said once, as a plain line: not again by `warnings` with a Python source line.
    assert output.count("could not be stored: ") == 1, output
    assert "TokenNotStoredWarning" not in output
    assert "warnings.warn" not in output


def test_login_with_flags_and_no_terminal(tmp_path: Path) -> None:
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/"
    cache = tmp_path / "token-cache"
    env = clean_env(TICKTICK_CLIENT_SECRET="fake-client-secret")
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        options = ["--cache-path", str(cache), "--output", "json"]
        proc = start_cli(*login_argv(fake, redirect, *options, timeout=30), env=env, cwd=tmp_path)
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stderr is not None
        stderr = proc.stderr

        def pump() -> None:
            for text in stderr:
                lines.put(text)

        threading.Thread(target=pump, daemon=True).start()
        seen: list[str] = []
        while True:
            line = lines.get(timeout=30)
            seen.append(line)
            if line.strip().startswith(f"{fake.url}/oauth/authorize?"):
                break
        assert follow_sign_on(line.strip()).status_code == 200
        out, _ = proc.communicate(timeout=30)
        time.sleep(0.1)
        while not lines.empty():
            seen.append(lines.get())
    assert proc.returncode == 0, "".join(seen)
    token = json.loads(out)
    assert token["access_token"] in fake.issued
    assert json.loads(cache.read_text())["access_token"] == token["access_token"]
    text = out + "".join(seen)
    assert "fake-client-secret" not in text
    assert "Enter your" not in text  # no prompt without a terminal


def test_login_without_terminal_or_secret_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKTICK_CLIENT_SECRET", raising=False)
    code, _, err = run(capsys, "login", "--client-id", "x", "--redirect-uri", "http://127.0.0.1:1/")
    assert code == 1
    assert "No client secret and no terminal to ask for it: set TICKTICK_CLIENT_SECRET." in err


def test_login_no_capture_without_a_terminal_names_no_capture_as_the_reason(
    tmp_path: Path,
) -> None:
    """The redirect URI is a loopback one: --no-capture, not the address, is why it stops."""
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick() as fake:
        ran = run_cli(
            *("login", "--host", fake.url, "--client-id", fake.client_id),
            *("--redirect-uri", redirect, "--no-browser", "--no-capture", "--timeout", "3"),
            *("--cache-path", str(tmp_path / "tok")),
            env=clean_env(TICKTICK_CLIENT_SECRET=fake.client_secret),
            cwd=tmp_path,
        )
    assert ran.returncode == 1, ran
    last = ran.stderr.splitlines()[-1]
    assert f"Capturing the redirect to {redirect} is turned off (--no-capture)" in last
    assert "not a loopback address" not in ran.stderr
    assert "paste the address" not in ran.stderr  # the pre-check: nowhere to paste


def test_login_busy_port_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("TICKTICK_CLIENT_SECRET", "s")
    with FakeTickTick() as fake, socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        code, _, err = run(
            capsys,
            "login",
            "--client-id",
            "x",
            "--redirect-uri",
            f"http://127.0.0.1:{port}/",
            "--host",
            fake.url,
            "--no-browser",
        )
    assert code == 1
    assert err.startswith(f"ticktick-auth: Port {port} on 127.0.0.1 is in use")
    assert "Traceback" not in err


def test_login_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scripted login writing a dotenv file, with the loopback redirect answered in-process."""
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/"
    monkeypatch.setenv("TICKTICK_CLIENT_SECRET", "fake-client-secret")
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:

        def browser() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                for line in capsys.readouterr().err.splitlines():
                    if line.strip().startswith(f"{fake.url}/oauth/authorize?"):
                        follow_sign_on(line.strip())
                        return
                time.sleep(0.05)

        threading.Thread(target=browser, daemon=True).start()
        out_file = tmp_path / "out" / "token.env"
        options = ["--no-cache", "--output", "dotenv", "--output-file", str(out_file)]
        code = main(login_argv(fake, redirect, *options, timeout=20))
        assert code == 0
        (token,) = fake.issued
    name, _, value = out_file.read_text().strip().partition("=")
    assert name == "ACCESS_TOKEN_DICT"
    assert json.loads(value.strip("'"))["access_token"] == token
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert not (tmp_path / ".token-oauth").exists()  # --no-cache


@pytest.mark.parametrize("command", ["status", "export", "logout"])
def test_corrupt_cache_with_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    cache = tmp_path / ".token-oauth"
    cache.write_text('{"access_token": "tok-half')
    code, out, err = run(capsys, command)
    if command == "logout":
        assert code == 0
        assert "Removed the cached token" in out
        assert not cache.exists()
        return
    assert code == 1  # no usable token; the corrupt file is set aside, not lost
    assert "ticktick-auth login" in out + err
    (aside,) = tmp_path.glob(".token-oauth.corrupt-*")
    assert aside.read_text() == '{"access_token": "tok-half'
    assert "tok-half" not in out + err


# -- issue 11: every default checked as its flag; logins that keep the token; bad values -----


BAD_DEFAULTS = [
    ("TICKTICK_STORE", "File", "is 'File', not one of file, keyring, redis"),
    ("TICKTICK_STORE", "", "is '', not one of file, keyring, redis"),
    ("TICKTICK_HOST", "ticktick.cn", "Unknown host"),
    ("TICKTICK_HOST", "http://example.org", "plain-HTTP"),
    ("TICKTICK_HOST", "", "is empty"),
    ("TICKTICK_CACHE_PATH", "", "is empty"),
    ("TICKTICK_CLIENT_ID", " ", "is empty"),
    ("TICKTICK_REDIS_URL", "redis://:x", "port"),
    ("TICKTICK_REDIS_URL", "http://foo", "is not a Redis URL"),
]


@pytest.mark.parametrize("command", ["token", "status", "export", "logout", "login"])
@pytest.mark.parametrize(("variable", "value", "reason"), BAD_DEFAULTS)
def test_a_bad_environment_default_is_a_usage_error_naming_it(
    tmp_path: Path, command: str, variable: str, value: str, reason: str
) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict())
    env = {variable: value, "TICKTICK_CLIENT_SECRET": "fake-client-secret"}
    result = run_cli(command, env={**os.environ, **env}, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert f"The environment variable {variable} (the default of --" in result.stderr
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1
    assert not re.search(r"[^.]\.\.(\s|$)", result.stderr), result.stderr  # composed: one stop
    assert (tmp_path / ".token-oauth").exists()  # logout removed nothing


@pytest.mark.parametrize("host", ["ticktick.cn", "http://example.org", "bad..host"])
def test_a_bad_host_flag_reads_as_one_sentence(host: str) -> None:
    result = run_cli("status", "--host", host, env=clean_env())
    assert result.returncode == 2
    assert "argument --host: is not a usable host: " in result.stderr
    assert not re.search(r"[^.]\.\.(\s|$)", result.stderr), result.stderr


def test_a_bad_redirect_uri_variable_is_a_usage_error() -> None:
    result = run_cli(
        "login", "--client-id", "c", env=clean_env(TICKTICK_REDIRECT_URI="127.0.0.1:8080")
    )
    assert result.returncode == 2
    assert "TICKTICK_REDIRECT_URI (the default of --redirect-uri) is not usable" in result.stderr
    assert "must be the full redirect URL" in result.stderr


@pytest.mark.parametrize(
    "uri",
    ["http://127.0.0.1:0/", "http://127.0.0.1:99999/", "http://[::1", "ftp://h/", "http://h/#done"],
)
def test_a_redirect_uri_oauth2_refuses_is_a_usage_error(uri: str) -> None:
    """The CLI checks --redirect-uri by the library's own rule, before anything happens."""
    result = run_cli(
        "login",
        "--client-id",
        "c",
        "--redirect-uri",
        uri,
        env=clean_env(TICKTICK_CLIENT_SECRET="s"),
    )
    assert result.returncode == 2, result.stderr
    assert "--redirect-uri: is not usable" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_flag_overrides_its_bad_variable(tmp_path: Path) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict())
    result = run_cli(
        *("token", "--store", "file", "--host", "ticktick.com"),
        cwd=tmp_path,
        TICKTICK_STORE="File",
        TICKTICK_HOST="nope",
    )
    assert (result.returncode, result.stdout) == (0, "tok-1234-abcd\n"), result.stderr


def test_store_file_misspelled_never_reaches_redis(redis_server: Any, tmp_path: Path) -> None:
    """TICKTICK_STORE=File once sent the token to an unauthenticated Redis: now exit 2."""
    import redis

    with FakeTickTick(auto_approve=True) as fake:
        result = run_cli(
            *("login", "--client-id", fake.client_id, "--redirect-uri", "http://127.0.0.1:8080/"),
            *("--host", fake.url, "--timeout", "5"),
            env=clean_env(
                TICKTICK_STORE="File",
                TICKTICK_REDIS_URL=redis_server.url,
                TICKTICK_CLIENT_SECRET=fake.client_secret,
            ),
        )
        assert fake.requests == []
    assert result.returncode == 2
    assert "TICKTICK_STORE" in result.stderr
    assert redis.Redis.from_url(redis_server.url).dbsize() == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["login", "--timeout", "nan"],
        ["login", "--timeout", "inf"],
        ["login", "--timeout", "-1"],
        ["login", "--timeout", "0"],
        ["login", "--timeout", "1e300"],
        ["status", "--min-days", "nan"],
        ["status", "--min-days", "inf"],
        ["status", "--min-days", "-1"],
    ],
)
def test_seconds_and_days_are_finite(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKTICK_CLIENT_SECRET", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert f"argument {argv[1]}: '{argv[2]}'" in capsys.readouterr().err


@pytest.mark.timeout(30)
def test_timeout_nan_no_longer_spins() -> None:
    result = run_cli(
        *("login", "--client-id", "c", "--redirect-uri", "http://127.0.0.1:9/", "--timeout", "nan"),
        env=clean_env(),
    )
    assert result.returncode == 2
    assert "is not a finite number of seconds" in result.stderr


@pytest.mark.parametrize("url", ["redis://:x", "http://foo", "redis://h:99999", "redis://h/db"])
@pytest.mark.parametrize("way", ["flag", "variable"])
def test_a_malformed_redis_url_is_one_line(url: str, way: str) -> None:
    options = ["--store", "redis", "--client-id", "c"]
    if way == "flag":
        result = run_cli("status", *options, "--redis-url", url, env=clean_env())
    else:
        result = run_cli("status", *options, env=clean_env(TICKTICK_REDIS_URL=url))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after argparse's usage lines, if any
    assert last.startswith("ticktick-auth status: error: ")
    assert "--redis-url" in last


@pytest.mark.parametrize("url", ["redis://:x", "http://foo", "redis://h:99999"])
def test_redis_store_refuses_a_malformed_url(url: str) -> None:
    from ticktick.errors import ConfigurationError
    from ticktick.stores.redis import RedisStore

    with pytest.raises(ConfigurationError, match="The Redis URL is malformed"):
        RedisStore(url)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--no-cache"], "--no-cache with no terminal and no --output would keep"),
        (["--no-cache", "--output", "cache"], "--no-cache with --output cache"),
        (["--output-file", "token.json"], "--output-file needs --output json"),
        (["--output", "cache", "--output-file", "t"], "--output-file needs --output json"),
    ],
)
def test_a_login_that_would_lose_the_token_is_refused_first(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    with FakeTickTick(auto_approve=True) as fake:
        result = run_cli(
            *login_argv(fake, "http://127.0.0.1:9/", *extra),
            env=clean_env(TICKTICK_CLIENT_SECRET=fake.client_secret),
        )
        assert fake.requests == []  # nothing happened
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_output_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    existing = tmp_path / "token.json"
    existing.write_text("precious\n")
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        refused = scripted_login(
            tmp_path, fake, redirect, "--output", "json", "--output-file", str(existing)
        )
        assert fake.requests == []  # refused before anyone signed on
        assert refused.returncode == 1
        assert "exists. Pass --force to replace it" in refused.stderr
        assert existing.read_text() == "precious\n"

        forced = scripted_login(
            tmp_path, fake, redirect, "--output", "json", "--output-file", str(existing), "--force"
        )
        assert forced.returncode == 0, forced.stderr
        (token,) = fake.issued
    assert json.loads(existing.read_text())["access_token"] == token
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600


def test_output_file_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "somefile").write_text("a file, not a folder")
    with FakeTickTick(auto_approve=True) as fake:
        result = scripted_login(
            tmp_path,
            fake,
            "http://127.0.0.1:9/",
            "--output",
            "dotenv",
            "--output-file",
            "somefile/x",
        )
        assert fake.requests == []
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("ticktick-auth: Cannot save to somefile/x: ")
    )
    assert "is a file, not a folder" in result.stderr


def test_output_file_failing_after_sign_on_prints_the_token(tmp_path: Path) -> None:
    """--no-cache: if the file cannot be written after all, the token goes to stdout."""
    redirect = f"http://127.0.0.1:{free_port()}/"
    target = tmp_path / "token.env"  # free when checked; taken while the person signs on
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        proc_env = {**os.environ, "TICKTICK_CLIENT_SECRET": fake.client_secret}
        argv = login_argv(fake, redirect, "--no-cache", "--output", "dotenv")
        argv += ["--output-file", str(target)]
        proc = start_cli(*argv, env=proc_env, cwd=tmp_path)
        assert proc.stderr is not None
        lines: list[str] = []
        url = read_to_authorize_url(proc.stderr, fake, lines)
        assert url is not None, "".join(lines)
        target.write_text("written by someone else meanwhile\n")
        follow_sign_on(url)
        lines.extend(proc.stderr)
        out = proc.stdout.read() if proc.stdout is not None else ""
        proc.wait(timeout=30)
        (token,) = fake.issued
    assert proc.returncode == 1
    assert target.read_text() == "written by someone else meanwhile\n"
    assert token in out  # not lost
    assert "The token was printed on standard output instead." in "".join(lines)


def test_interactive_save_asks_again_after_a_bad_path(
    tmp_path: Path, desktop: dict[str, str]
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    (tmp_path / "somefile").write_text("a file")
    desktop["PATH"] = os.environ["PATH"]  # no clipboard tool
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child = _login_in_pty(fake, tmp_path, desktop, redirect)
        child.expect_exact("Do you want to print the token and its expiration? [Y/n]: ")
        child.sendline("n")
        prompt = "Enter the file path to save the token and expiration (empty to skip): "
        child.expect_exact(prompt)
        child.sendline("somefile/x")
        child.expect_exact("Not saved: Cannot save to somefile/x: ")
        child.expect_exact(prompt)
        child.sendline(str(tmp_path / "saved.json"))
        child.expect_exact("(mode 0600)")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert "Traceback" not in (child.before or "")
        (token,) = fake.issued
    assert json.loads((tmp_path / "saved.json").read_text())["access_token"] == token


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "--scope", " "], "argument --scope: is empty"),
        (["token", "--host", "ticktick.cn"], "argument --host: is not a usable host: Unknown"),
        (["token", "--cache-path", "a\0b"], "argument --cache-path: contains a NUL character"),
        (["token", "--client-id"], "argument --client-id: expected one argument"),
        (["login", "--redirect-uri", "127.0.0.1:8080"], "argument --redirect-uri: is not usable"),
        (["login", "--redirect-uri", "http://h:99999/"], "argument --redirect-uri: is not usable"),
        (["status", "--redis-url", "unix://"], "argument --redis-url: names no socket path"),
        (["status", "--redis-url", "redis://h:0/0"], "argument --redis-url: has port 0"),
        (["status", "--min-days", "soon"], "argument --min-days: 'soon' is not a number"),
    ],
)
def test_every_value_is_checked_by_one_function(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_good_unusual_values_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cache(tmp_path / "t", token_dict())
    monkeypatch.setenv("TICKTICK_REDIS_URL", "unix:///run/redis.sock")
    assert run(capsys, "token", "--cache-path=t", "--env-key=", "--host=HTTPS://TickTick.com/") == (
        0,
        "tok-1234-abcd\n",
        "",
    )
    monkeypatch.setenv("TICKTICK_REDIS_URL", "rediss://:pw@h:6380/2")
    assert run(capsys, "status", "--cache-path", "t")[0] == 0


def test_advice_carries_the_options_that_found_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c").mkdir()
    write_cache(tmp_path / "c" / "t", token_dict(expire_time=int(time.time()) - 5), host="x")
    options = ["--cache-path", "c/t", "--client-id", "cid", "--scope", "tasks:read"]
    code, _, err = run(capsys, "token", *options, "--host", "https://example.org")
    assert code == 1
    cache = tmp_path / "c" / "t"  # named absolute: the advice may be run in another folder
    assert (
        "Run 'ticktick-auth login --client-id cid --host https://example.org --scope tasks:read "
        f"--cache-path {cache}' to get one." in err
    )
    write_cache(tmp_path / "c" / "t", token_dict(expire_time=int(time.time()) - 5))
    code, out, _ = run(capsys, "status", "--cache-path", "c/t", "--scope", "tasks:write tasks:read")
    assert code == 1
    assert (  # --host named even as the default: TICKTICK_HOST cannot redirect it
        "EXPIRED. Run 'ticktick-auth login --host ticktick.com --scope 'tasks:write tasks:read' "
        f"--cache-path {cache}'" in out
    )


def test_interactive_save_never_replaces_without_a_yes_and_notes_a_lost_token(
    tmp_path: Path, desktop: dict[str, str]
) -> None:
    """--no-cache in a terminal, every offer declined: the person is told it is kept nowhere."""
    redirect = f"http://127.0.0.1:{free_port()}/"
    existing = tmp_path / "existing.json"
    existing.write_text("keep me")
    desktop["PATH"] = os.environ["PATH"]
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child = _login_in_pty(fake, tmp_path, desktop, redirect, "--no-cache")
        child.expect_exact("Do you want to print the token and its expiration? [Y/n]: ")
        child.sendline("n")
        prompt = "Enter the file path to save the token and expiration (empty to skip): "
        child.expect_exact(prompt)
        child.sendline(str(existing))
        child.expect_exact("exists. Overwrite it? [y/N]: ")
        child.sendline("")
        child.expect_exact("Not saved.")
        child.expect_exact(prompt)
        child.sendline(str(tmp_path))
        child.expect_exact("it is a folder")
        child.expect_exact(prompt)
        child.sendline("")
        child.expect_exact("The token was not kept anywhere (--no-cache, and no offer taken).")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    assert existing.read_text() == "keep me"


# -- every prompt's closed or undecodable input, and values with control characters --------


def _login_to_prompt(tmp_path: Path, env: dict[str, str], answers: list[str]) -> pexpect.spawn[str]:
    """``login`` in a real pseudo-terminal, answered up to its client-secret prompt."""
    child = spawn_cli(
        *("login", "--no-browser", "--no-capture", "--timeout", "15"),
        env={k: v for k, v in env.items() if not k.startswith("TICKTICK_")},
        cwd=tmp_path,
        codec_errors="replace",
    )
    child.expect_exact("Enter your client id: ")
    for answer in answers:
        child.sendline(answer)
        child.expect_exact("Enter your client secret: ")
    return child


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("answers", "typed", "prompt", "exit_code"),
    [
        ([], "eof", "Enter your client id", 1),
        ([], b"\xff\xfeab\xc3\n", "Enter your client id", 1),
        (["cid"], "eof", "Enter your client secret", 1),
        (["cid"], b"\xff\xfeab\xc3\n", "Enter your client secret", 1),
        (["cid"], "intr", "", 130),
    ],
    ids=["id-ctrl-d", "id-not-utf8", "secret-ctrl-d", "secret-not-utf8", "secret-ctrl-c"],
)
def test_every_prompt_ends_in_one_line_naming_it(
    tmp_path: Path,
    desktop: dict[str, str],
    answers: list[str],
    typed: str | bytes,
    prompt: str,
    exit_code: int,
) -> None:
    """Ctrl-D, Ctrl-C or bytes that are not UTF-8 at a prompt: one line, no traceback."""
    child = _login_to_prompt(tmp_path, desktop, answers)
    if typed == "eof":
        child.sendeof()
    elif typed == "intr":
        child.sendintr()
    else:
        assert isinstance(typed, bytes)
        os.write(child.child_fd, typed)
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before or ""
    assert "Traceback" not in shown, shown
    assert "Error:" not in shown, shown
    assert child.exitstatus == exit_code, shown
    errors = [line for line in shown.splitlines() if line.startswith("ticktick-auth")]
    assert len(errors) == 1, shown
    assert prompt in errors[0], shown
    assert "client_id" not in shown  # words, not the library's argument names
    assert "client_secret" not in shown
    if exit_code == 1:
        assert "redirect URL" not in errors[0]


NASTY = "x\nFORGED LINE\r\x1b[31m\x1b]0;title\x07"


@pytest.mark.parametrize(
    "command",
    [
        ["export"],
        ["export", "--format", "dotenv"],
        ["logout"],
        ["status"],
        ["token", "--client-id", "other-app"],
        ["logout", "--store", "file"],
    ],
)
def test_no_command_shows_control_characters_of_a_value_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A cache path with line breaks and escape sequences is shown escaped, in any message."""
    folder = tmp_path / NASTY
    folder.mkdir()
    cache = folder / "c"
    write_cache(cache, token_dict())
    _, out, err = run(capsys, *command, "--cache-path", str(cache))
    shown = out + err
    for raw in ("\x1b", "\r", "\x07"):
        assert raw not in shown, shown
    assert not any(line.startswith("FORGED LINE") for line in shown.splitlines()), shown
    assert "\\nFORGED LINE\\r\\x1b[31m" in shown, shown


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["token", "status", "export", "logout"])
def test_a_logged_warning_shows_control_characters_of_a_path_escaped(
    tmp_path: Path, command: str
) -> None:
    """The library's own log line (a corrupt cache set aside) names the path escaped too."""
    folder = tmp_path / NASTY
    folder.mkdir()
    cache = folder / "c"
    cache.write_text("{not json")
    cache.chmod(0o600)
    env = clean_env(TICKTICK_CACHE_PATH=str(cache))
    result = run_cli(command, env=env, cwd=tmp_path, timeout=30)
    shown = result.stdout + result.stderr
    for raw in ("\x1b", "\r", "\x07"):
        assert raw not in shown, shown
    assert not any(line.startswith("FORGED LINE") for line in shown.splitlines()), shown
    if command != "logout":
        assert "\\nFORGED LINE\\r\\x1b[31m" in shown, shown
