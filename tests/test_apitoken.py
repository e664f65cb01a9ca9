"""Personal API tokens: ApiToken, their place in the stores, and ``login --api-token``.

Against the fake TickTick: it issues API tokens (``issue_api_token``) and refuses
revoked ones, as TickTick's Open API does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import termios
import time
import webbrowser
from pathlib import Path
from typing import Any

import pexpect
import pytest
import requests
from helpers import IDENTITY, clean_env, run_cli, spawn_cli, token_dict, write_cache
from leak_audit import Secrets, find_leaks

from ticktick import (
    ApiToken,
    ConfigurationError,
    FileStore,
    OpenAPI,
    ReauthorizationRequired,
    TickTickAuth,
    TokenFormatError,
    TokenIdentity,
    Unauthorized,
)
from ticktick.apitoken import api_token_dict
from ticktick.stores import MemoryStore
from ticktick.testing import FakeTickTick

MALFORMED = [
    ("tp_abc def", "a space or line break at character 7"),
    ("Bearer tp_abcdef", "a space or line break at character 7"),
    ("tp_abcdéf", "a non-ASCII character at character 8"),
    ("tp_abc\ndef", "a space or line break at character 7"),
    ("tp_abc,def", "a character a bearer token cannot have"),
    ("", "is empty"),
]


@pytest.fixture(autouse=True)
def _no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A personal API token never signs on: opening a browser fails the test."""

    def refuse(*args: object, **kwargs: object) -> bool:
        raise AssertionError("a browser was opened")

    monkeypatch.setattr(webbrowser, "open", refuse)


def _no_sign_on(fake: FakeTickTick) -> None:
    assert fake.requests_to("/oauth/authorize") == []
    assert fake.token_requests == 0


# -- the Python side ----------------------------------------------------------------------


def test_open_api_and_auth_take_an_api_token(fake: FakeTickTick) -> None:
    token = fake.issue_api_token()
    api = OpenAPI(ApiToken(token, host=fake.url))
    project = api.create_project("Inbox 2")
    assert [p["id"] for p in api.list_projects()] == [project["id"]]
    auth = TickTickAuth(ApiToken(token, host=fake.url))
    answer = requests.get(f"{fake.url}/open/v1/project", auth=auth, timeout=5)
    assert answer.status_code == 200
    assert all(
        r.headers["Authorization"] == f"Bearer {token}"
        for r in fake.requests_to("/open/v1/project")
    )
    _no_sign_on(fake)


def test_a_refused_api_token_is_explained_and_never_signs_on(fake: FakeTickTick) -> None:
    token = fake.issue_api_token()
    provider = ApiToken(token, host=fake.url)
    api = OpenAPI(provider)
    api.list_projects()
    fake.revoke(token)
    with pytest.raises(Unauthorized) as caught:
        api.list_projects()
    message = str(caught.value)
    assert "revoked, mistyped" in message
    assert "Settings > Account > API Token" in message
    assert fake.url in message  # the host it was created on
    assert token not in message
    assert provider.refused
    assert provider.token_in_memory() is None
    assert "tp_" not in repr(provider)
    with pytest.raises(Unauthorized):  # again: still no sign-on, still the same answer
        api.list_projects()
    assert len(fake.requests_to("/open/v1/project")) == 3  # one try each: nothing to renew
    _no_sign_on(fake)


@pytest.mark.parametrize("host", ["ticktick.com", "dida365.com"])
def test_the_advice_names_the_site_of_the_host(host: str) -> None:
    provider = ApiToken("tp_0123456789abcdef", host=host)
    assert f"Settings > Account > API Token on {host}" in provider.renewal_advice()
    assert provider.endpoints.api_base_url == f"https://api.{host}/open/v1"
    assert repr(provider) == f"ApiToken(host={host!r}, token=<redacted>)"


@pytest.mark.parametrize(("value", "reason"), MALFORMED)
def test_a_malformed_token_is_refused_without_quoting_it(value: str, reason: str) -> None:
    with pytest.raises(TokenFormatError) as caught:
        ApiToken(value)
    assert reason in str(caught.value)
    assert "Settings > Account > API Token" in str(caught.value)
    if value:
        assert value not in str(caught.value)


def test_from_env(fake: FakeTickTick, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKTICK_API_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="TICKTICK_API_TOKEN is not set"):
        ApiToken.from_env()
    monkeypatch.setenv("TICKTICK_API_TOKEN", "  \n")
    with pytest.raises(ConfigurationError, match="TICKTICK_API_TOKEN is not set"):
        ApiToken.from_env()
    monkeypatch.setenv("TICKTICK_API_TOKEN", "tp_abc def")
    with pytest.raises(TokenFormatError, match="The environment variable TICKTICK_API_TOKEN"):
        ApiToken.from_env()
    token = fake.issue_api_token()
    monkeypatch.setenv("TICKTICK_API_TOKEN", token + "\n")  # as a CI secret may end
    provider = ApiToken.from_env(host=fake.url)
    assert OpenAPI(provider).list_projects() == []
    assert provider.token_source == "the personal API token in TICKTICK_API_TOKEN"
    fake.revoke(token)
    with pytest.raises(Unauthorized, match="in TICKTICK_API_TOKEN"):
        OpenAPI(provider).list_projects()
    _no_sign_on(fake)


# -- stores: same guarantees, its own identity --------------------------------------------


def test_stored_form_is_bound_to_host_and_kind(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    store = FileStore(path, identity=TokenIdentity.api_token("ticktick.com"))
    store.write(api_token_dict("tp_0123456789abcdef", checked_at=1_800_000_000))
    assert path.stat().st_mode & 0o777 == 0o600
    stored = json.loads(path.read_text())
    assert stored["issued_for"] == {"host": "ticktick.com", "kind": "api_token"}
    assert stored["token_type"] == "bearer"
    assert "expire_time" not in stored  # unknown: never taken for an expired OAuth token
    assert store.read() == {**api_token_dict("tp_0123456789abcdef"), "checked_at": 1_800_000_000}
    # Another host's API token store, and an app's, do not use it.
    assert FileStore(path, identity=TokenIdentity.api_token("dida365.com")).read() is None
    assert FileStore(path, identity=IDENTITY).read() is None
    # A reader that knows no app (ticktick-auth token) finds it.
    assert FileStore(path, identity=TokenIdentity("ticktick.com", None, None)).read() is not None
    assert FileStore(path).recorded_identity() == TokenIdentity.api_token("ticktick.com")


def test_an_oauth_token_is_never_taken_for_an_api_token(tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    api_identity = TokenIdentity.api_token("ticktick.com")
    write_cache(path, token_dict())  # this project's OAuth token
    assert FileStore(path, identity=api_identity).read() is None
    path.write_text(json.dumps(token_dict()))  # ticktick-py's, with no issued_for
    assert FileStore(path, identity=api_identity).read() is None
    with pytest.raises(ConfigurationError, match="No personal API token"):
        ApiToken.from_store(FileStore(path))
    assert json.loads(path.read_text()) == token_dict()  # read only: left as it was


def test_an_api_token_is_never_taken_for_an_oauth_token(fake: FakeTickTick, tmp_path: Path) -> None:
    path = tmp_path / ".token-oauth"
    token = fake.issue_api_token()
    FileStore(path, identity=TokenIdentity.api_token(fake.endpoints.host)).write(
        api_token_dict(token)
    )
    with pytest.raises(ReauthorizationRequired):  # not the app's token: a sign-on is needed
        fake.oauth2(cache_path=path, interactive=False)
    assert ApiToken.from_store(FileStore(path), host=fake.url).get_access_token() == token
    _no_sign_on(fake)


def test_memory_store_and_identity_values() -> None:
    identity = TokenIdentity.api_token("ticktick.com")
    assert identity.require_full("store") == ("ticktick.com", "", "api_token")
    assert identity == TokenIdentity("ticktick.com", "cid", "x", "api_token")
    assert identity != TokenIdentity("ticktick.com", None, None)
    assert repr(identity) == "TokenIdentity.api_token('ticktick.com')"
    import pickle

    assert pickle.loads(pickle.dumps(identity)) == identity  # noqa: S301 - our own bytes
    store = MemoryStore(identity=identity)
    store.write(api_token_dict("tp_0123456789abcdef"))
    assert ApiToken.from_store(store).get_access_token() == "tp_0123456789abcdef"


# -- the command line ---------------------------------------------------------------------


def _login_piped(
    fake: FakeTickTick, cwd: Path, text: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``login --api-token`` with *text* on its standard input (a pipe)."""
    argv = ("login", "--api-token", "--host", fake.url, *extra)
    return run_cli(*argv, env=clean_env(), cwd=cwd, stdin=text)


def _cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*argv, env=clean_env(), cwd=cwd)


def test_login_from_a_pipe_then_token_status_export_api_logout(
    fake: FakeTickTick, tmp_path: Path
) -> None:
    token = fake.issue_api_token()
    done = _login_piped(fake, tmp_path, token + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "personal API token stored in cache file .token-oauth" in done.stderr
    assert token not in done.stderr
    (check,) = fake.requests_to("/open/v1/project")
    assert check.headers["Authorization"] == f"Bearer {token}"
    cache = tmp_path / ".token-oauth"
    assert cache.stat().st_mode & 0o777 == 0o600
    # Every command finds it without --host: the host is recorded with it.
    assert _cli(tmp_path, "token").stdout == f"{token}\n"
    status = _cli(tmp_path, "status")
    assert status.returncode == 0
    assert "personal API token, expiry unknown, last checked " in status.stdout
    assert "never" not in status.stdout
    assert token not in status.stdout
    export = _cli(tmp_path, "export", "--format", "dotenv")
    assert export.stdout == f"TICKTICK_API_TOKEN={token}\n"
    assert "TICKTICK_API_TOKEN" in export.stderr
    assert _cli(tmp_path, "export").stdout == f"{token}\n"
    # The exported value works where CI reads it.
    os.environ["TICKTICK_API_TOKEN"] = token
    try:
        assert OpenAPI(ApiToken.from_env(host=fake.url)).list_projects() == []
    finally:
        del os.environ["TICKTICK_API_TOKEN"]
    assert _cli(tmp_path, "logout", "--api-token").returncode == 0
    assert not cache.exists()
    assert _cli(tmp_path, "token").returncode == 1
    _no_sign_on(fake)


def test_login_in_a_terminal_reads_without_echo(fake: FakeTickTick, tmp_path: Path) -> None:
    token = fake.issue_api_token()
    argv = ("login", "--api-token", "--host", fake.url)
    child = spawn_cli(*argv, env=clean_env(), cwd=tmp_path)
    child.expect("Paste your personal API token")
    child.sendline(token)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    shown = child.before or ""
    assert "personal API token stored" in shown
    assert token not in shown  # no echo
    assert FileStore(tmp_path / ".token-oauth").read() is not None
    _no_sign_on(fake)


def test_login_with_a_revoked_token_stores_nothing(fake: FakeTickTick, tmp_path: Path) -> None:
    token = fake.issue_api_token()
    fake.revoke(token)
    done = _login_piped(fake, tmp_path, token)
    assert done.returncode == 1
    assert "refused this personal API token (HTTP 401" in done.stderr
    assert "revoked or mistyped" in done.stderr
    assert "Settings > Account > API Token" in done.stderr
    assert "Nothing was stored" in done.stderr
    assert token not in done.stderr
    assert not (tmp_path / ".token-oauth").exists()
    _no_sign_on(fake)


@pytest.mark.parametrize(("value", "reason"), MALFORMED[:5])
def test_login_with_a_malformed_token_asks_nothing_of_tickTick(
    fake: FakeTickTick, tmp_path: Path, value: str, reason: str
) -> None:
    done = _login_piped(fake, tmp_path, value)
    assert done.returncode == 1
    assert reason in done.stderr
    assert value not in done.stderr
    assert fake.requests == []
    assert not (tmp_path / ".token-oauth").exists()


def test_login_with_nothing_piped_says_how(fake: FakeTickTick, tmp_path: Path) -> None:
    done = _cli(tmp_path, "login", "--api-token", "--host", fake.url)
    assert done.returncode == 1
    assert "No personal API token given. Pipe it to standard input" in done.stderr
    assert fake.requests == []


@pytest.mark.parametrize(
    "argv",
    [
        ("login", "--api-token", "{token}"),
        ("login", "--api-token={token}"),
        ("login", "--api-token", "--host", "ticktick.com", "{token}"),
        ("{token}",),
        ("login", "--timeout", "{token}"),
        ("logout", "--store", "{token}"),
    ],
    ids=["after-the-flag", "equals", "after-host", "as-command", "as-timeout", "as-store"],
)
def test_a_token_given_as_an_argument_is_never_echoed(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    token = "tp_" + "5eC7e7" * 10
    done = _cli(tmp_path, *(arg.format(token=token) for arg in argv))
    assert done.returncode == 2
    said = done.stdout + done.stderr
    assert token not in said
    assert token[:12] not in said
    assert "not shown" in said
    if any(arg.startswith("--api-token") for arg in argv):
        assert "standard input" in said  # it says how to give one


def test_login_refuses_the_flags_of_a_sign_on(fake: FakeTickTick, tmp_path: Path) -> None:
    done = _login_piped(fake, tmp_path, fake.issue_api_token(), "--no-cache")
    assert done.returncode == 2
    assert "--no-cache is for a sign-on" in done.stderr


def test_an_api_token_replaces_an_oauth_token_without_losing_it(
    fake: FakeTickTick, tmp_path: Path
) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict(), host=fake.endpoints.host)
    token = fake.issue_api_token()
    assert _login_piped(fake, tmp_path, token).returncode == 0
    assert [p.name for p in tmp_path.glob(".token-oauth.foreign-*")] != []  # set aside
    assert _cli(tmp_path, "token", "--client-id", "cid").returncode == 1  # not the app's
    assert _cli(tmp_path, "token").stdout == f"{token}\n"


def test_the_secrets_audit_watches_api_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeTickTick, "on_start", [])  # not part of the session's audit
    with FakeTickTick() as fake:
        token = fake.issue_api_token()
    secrets = Secrets.of([fake])
    assert token in secrets.tokens
    leaks = find_leaks(
        secrets, [("ticktick", f"refused {token}")], [f"bad: {token.encode().hex()}"], [fake]
    )
    assert len(leaks) == 2
    assert token not in "\n".join(leaks)


def test_cli_with_redis_store(fake: FakeTickTick, tmp_path: Path, redis_server: Any) -> None:
    token = fake.issue_api_token()
    store = ("--store", "redis", "--redis-url", redis_server.url)
    assert _login_piped(fake, tmp_path, token, *store).returncode == 0
    common = ("--api-token", "--host", fake.url, *store)
    assert _cli(tmp_path, "token", *common).stdout == f"{token}\n"
    assert "personal API token, expiry unknown" in _cli(tmp_path, "status", *common).stdout
    assert _cli(tmp_path, "logout", *common).returncode == 0
    assert _cli(tmp_path, "token", *common).returncode == 1


def test_the_python_block_of_the_page_runs(
    fake: FakeTickTick, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "api-tokens.md"
    blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)
    assert blocks
    fake.api.handle("POST", "/project", json.dumps({"name": "Groceries"}).encode())
    monkeypatch.setenv("TICKTICK_API_TOKEN", fake.issue_api_token())
    monkeypatch.setenv("TICKTICK_HOST", fake.url)  # the fake stands in for ticktick.com
    for block in blocks:
        exec(compile(block, str(page), "exec"), {"__name__": "__docs__"})  # noqa: S102
    assert capsys.readouterr().out == "['Groceries']\n"


def test_login_in_a_terminal_gives_up_after_its_timeout(fake: FakeTickTick, tmp_path: Path) -> None:
    argv = ("login", "--api-token", "--host", fake.url, "--timeout", "1")
    child = spawn_cli(*argv, env=clean_env(), cwd=tmp_path)
    child.expect("Paste your personal API token")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "No personal API token pasted within 1 s (--timeout)" in (child.before or "")
    assert fake.requests == []


def test_sigterm_at_the_hidden_prompt_gives_the_terminal_its_echo_back(
    fake: FakeTickTick, tmp_path: Path
) -> None:
    """``timeout 60 ticktick-auth login --api-token``, a closing IDE, systemd: SIGTERM."""
    argv = ("login", "--api-token", "--host", fake.url, "--timeout", "30")
    child = spawn_cli(*argv, env=clean_env(), cwd=tmp_path)
    try:
        child.expect("Paste your personal API token")
        # The prompt is written before the echo goes off: wait for it to go.
        for _ in range(100):
            if not termios.tcgetattr(child.child_fd)[3] & termios.ECHO:
                break
            time.sleep(0.05)
        assert not termios.tcgetattr(child.child_fd)[3] & termios.ECHO  # the paste is hidden
        child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF)
        assert termios.tcgetattr(child.child_fd)[3] & termios.ECHO, "echo was left off"
        child.close()
        assert child.signalstatus == signal.SIGTERM  # ended by the signal, as without a prompt
    finally:
        child.terminate(force=True)
    assert fake.requests == []


def test_a_server_echoing_the_api_token_is_redacted(fake: FakeTickTick) -> None:
    token = fake.issue_api_token()
    fake.fail("/open/v1/project", 401, body=json.dumps({"error": f"bad token {token}"}))
    with pytest.raises(Unauthorized) as caught:
        OpenAPI(ApiToken(token, host=fake.url)).list_projects()
    assert token not in str(caught.value)
    assert "<redacted>" in caught.value.body_excerpt
    _no_sign_on(fake)


def _run(cwd: Path, env: dict[str, str], *argv: str, text: str | None = None) -> Any:
    return run_cli(*argv, env=env, cwd=cwd, stdin=text)


def test_a_profile_remembers_an_api_token(fake: FakeTickTick, tmp_path: Path) -> None:
    """``login --api-token --profile p`` makes a profile that every command then uses."""
    token = fake.issue_api_token()
    env = {**clean_env(), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    login = ("login", "--api-token", "--profile", "p", "--host", fake.url)
    done = _run(tmp_path, env, *login, text=token + "\n")
    assert done.returncode == 0, done.stderr
    assert "Remembered the settings of the profile 'p'" in done.stderr
    saved = json.loads((tmp_path / "config" / "ticktick-auth" / "profiles.json").read_text())
    assert saved["profiles"]["p"]["kind"] == "api_token"
    assert "client_id" not in saved["profiles"]["p"]
    assert token not in json.dumps(saved)
    assert _run(tmp_path, env, "token", "--profile", "p").stdout == f"{token}\n"
    status = _run(tmp_path, env, "status", "--profile", "p")
    assert "personal API token, expiry unknown" in status.stdout
    listed = _run(tmp_path, env, "status", "--all")
    assert re.search(r"^p\s+http://127\.0\.0\.1:\d+\s+unknown", listed.stdout, re.M), listed.stdout
    # Logging in again needs only the profile: it asks for the (new) token, no app.
    again = fake.issue_api_token()
    redo = _run(tmp_path, env, "login", "--profile", "p", text=again + "\n")
    assert redo.returncode == 0, redo.stderr
    assert _run(tmp_path, env, "token", "--profile", "p").stdout == f"{again}\n"
    assert _run(tmp_path, env, "logout", "--profile", "p").returncode == 0
    assert _run(tmp_path, env, "token", "--profile", "p").returncode == 1
    _no_sign_on(fake)


def test_doctor_checks_an_api_token_setup_without_an_app(
    fake: FakeTickTick, tmp_path: Path
) -> None:
    token = fake.issue_api_token()
    assert _login_piped(fake, tmp_path, token).returncode == 0
    doctor = _cli(tmp_path, "doctor")  # the host is the one recorded with the token
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "- app: not needed for a personal API token" in doctor.stdout
    assert "client id" not in doctor.stdout.replace("no client id", "")
    assert "✓ token: in the cache file .token-oauth, its expiry is unknown" in doctor.stdout
    assert "✓ Open API" in doctor.stdout
    assert token not in doctor.stdout + doctor.stderr


def test_logout_revoke_of_an_api_token_says_where_it_is_revoked(
    fake: FakeTickTick, tmp_path: Path
) -> None:
    token = fake.issue_api_token()
    assert _login_piped(fake, tmp_path, token).returncode == 0
    done = _cli(tmp_path, "logout", "--revoke")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Not revoked: a personal API token is revoked only by ")
    assert "Settings > Account > API Token" in done.stdout
    assert "Removed the cached token" in done.stdout
    assert not (tmp_path / ".token-oauth").exists()
    assert fake.requests_to("/oauth/revoke") == []
    assert OpenAPI(ApiToken(token, host=fake.url)).list_projects() == []  # still valid there
