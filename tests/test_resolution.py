"""One resolution for OAuth2 and ticktick-auth; a region's URL is that region; advice that works.

The CLI runs as people run it: a subprocess with no standard input, or a real
pseudo-terminal (pexpect) against the fake TickTick. Every command the library prints
as advice is run here, as printed, and must lead where it says.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import sys
import time
import warnings
from pathlib import Path
from threading import RLock
from typing import Any

import pexpect
import pytest
from helpers import (
    clean_env,
    free_port,
    run_cli,
    spawn_cli,
    token_command_imports,
    token_dict,
    write_cache,
)

from ticktick import OAuth2, OpenAPI
from ticktick.endpoints import DIDA365, TICKTICK, resolve_host
from ticktick.errors import (
    ConfigurationError,
    ReauthorizationRequired,
    TokenExpiryWarning,
    Unauthorized,
)
from ticktick.resolution import Resolver
from ticktick.stores import MemoryStore, TokenIdentity, TokenStore
from ticktick.testing import FakeTickTick
from ticktick.token import TokenDict, validate_token_dict

NOW = int(time.time())
VALID = NOW + 100 * 86400
EXPIRED = NOW - 10


# -- 1. the CLI resolves exactly as OAuth2 does -------------------------------------------


def test_cli_expired_variable_falls_through_to_the_valid_cache(tmp_path: Path) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict("tok-cached", VALID))
    env = clean_env(ACCESS_TOKEN_DICT=repr(token_dict("tok-old-env", EXPIRED)))
    token = run_cli("token", env=env, cwd=tmp_path)
    assert (token.returncode, token.stdout) == (0, "tok-cached\n"), token.stderr
    status = run_cli("status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stdout
    assert "source:   cache file .token-oauth" in status.stdout
    assert "skipped:  environment variable ACCESS_TOKEN_DICT (expired on" in status.stdout
    assert "status:   valid" in status.stdout
    export = run_cli("export", "--format", "json", env=env, cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    assert json.loads(export.stdout)["access_token"] == "tok-cached"


ENV_CASES = {
    "unset": None,
    "valid": token_dict("tok-env", VALID),
    "expired": token_dict("tok-env-old", EXPIRED),
    "no-expiry": {"access_token": "tok-env-forever"},
}
CACHE_CASES = {
    "absent": None,
    "valid": token_dict("tok-cache", VALID),
    "expired": token_dict("tok-cache-old", EXPIRED),
    "within-margin": token_dict("tok-cache-margin", NOW + 30),
    "other-app": token_dict("tok-other-app", VALID),
}


@pytest.mark.parametrize("env_case", list(ENV_CASES))
@pytest.mark.parametrize("cache_case", list(CACHE_CASES))
def test_library_and_cli_find_the_same_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_case: str, cache_case: str
) -> None:
    """Every combination: `OAuth2` (nobody to ask) and `ticktick-auth token` agree."""
    env_token, cache_token = ENV_CASES[env_case], CACHE_CASES[cache_case]
    env = clean_env()
    if env_token is not None:
        env["ACCESS_TOKEN_DICT"] = repr(env_token)
        monkeypatch.setenv("ACCESS_TOKEN_DICT", repr(env_token))
    if cache_token is not None:
        owner = "other-client" if cache_case == "other-app" else "cid"
        write_cache(tmp_path / ".token-oauth", cache_token, client_id=owner)
    try:
        library: str | None = OAuth2(
            "cid",
            "secret",
            "http://127.0.0.1:8080/",
            env_key="ACCESS_TOKEN_DICT",
            interactive=False,
        ).get_access_token()
    except ReauthorizationRequired:
        library = None
    result = run_cli("token", "--client-id", "cid", env=env, cwd=tmp_path)
    command = result.stdout.strip() if result.returncode == 0 else None
    assert command == library, result.stderr
    if library is None:
        assert result.returncode == 1
        assert "ticktick-auth login --client-id cid" in result.stderr


def test_token_stays_off_requests_and_argparse(tmp_path: Path) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict("tok-fast", VALID))
    env = clean_env(ACCESS_TOKEN_DICT=repr(token_dict("tok-old-env", EXPIRED)))
    result = token_command_imports(["requests", "argparse", "urllib3"], cwd=tmp_path, env=env)
    assert result.stdout == "tok-fast\n"
    assert result.stderr.strip() == "[]"


# -- 3. a region's URL is that region ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("https://ticktick.com", TICKTICK),
        ("https://ticktick.com/", TICKTICK),
        ("HTTPS://TickTick.com/", TICKTICK),
        ("https://ticktick.com:443", TICKTICK),
        ("TickTick.com/", TICKTICK),
        ("https://dida365.com", DIDA365),
        ("https://DIDA365.com/", DIDA365),
    ],
)
def test_a_regions_url_is_that_region(tmp_path: Path, host: str, region: Any) -> None:
    assert resolve_host(host) is region
    write_cache(tmp_path / ".token-oauth", token_dict("tok-region", VALID), host=region.host)
    oauth = OAuth2("cid", "s", "http://127.0.0.1:8080/", host=host, interactive=False)
    assert oauth.endpoints is region
    assert oauth.get_access_token() == "tok-region"  # the region's own cached token
    result = run_cli("token", "--host", host, env=clean_env(), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "tok-region\n"), result.stderr
    result = run_cli("token", env=clean_env(TICKTICK_HOST=host), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "tok-region\n"), result.stderr


@pytest.mark.parametrize(
    "host",
    [
        "http://ticktick.com",
        "https://api.ticktick.com/open/v1",
        "https://ticktick.com/oauth",
        "https://dida365.com:8443",
        "https://user@ticktick.com",
    ],
)
def test_other_urls_on_a_regions_domain_are_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match="use host="):
        resolve_host(host)


# -- 4. advice that works: run every printed command ---------------------------------------


@pytest.fixture
def signon() -> Any:
    """A fake TickTick that approves at once, for a loopback redirect URI."""
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        yield fake


def _browser(folder: Path) -> dict[str, str]:
    """A pty environment whose 'browser' follows the auto-approve redirect to the receiver."""
    script = folder / "browser"
    script.write_text(
        "#!/bin/sh\n"
        f"'{sys.executable}' -c 'import sys, urllib.request; "
        'urllib.request.urlopen(sys.argv[1], timeout=10).read()\' "$1" '
        ">/dev/null 2>&1 &\n"
    )
    script.chmod(0o755)
    env = clean_env(BROWSER=f"{script} %s", TERM="dumb", NO_PROXY="*", no_proxy="*")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "http_proxy", "HTTP_PROXY"):
        env.pop(name, None)
    return env


def _quoted_commands(message: str) -> list[str]:
    """The ``'ticktick-auth ...'`` commands quoted in *message*, in order."""
    return re.findall(r"'(ticktick-auth [^']*)'", message)


def run_printed(command: str, fake: FakeTickTick, cwd: Path) -> str:
    """Run *command* as printed, in a real terminal, answering as a person would."""
    argv = shlex.split(command)
    assert argv[0] == "ticktick-auth"
    transcript = io.StringIO()
    child = spawn_cli(*argv[1:], env=_browser(cwd), cwd=cwd)
    child.logfile_read = transcript
    answers = {
        "Enter your client secret: ": fake.client_secret,
        "Open the browser to sign on? [Y/n]: ": "",
        "Do you want the token to be copied to the clipboard? [Y/n]: ": "n",
        "Do you want to print the token and its expiration? [Y/n]: ": "n",
        "Enter the file path to save the token and expiration (empty to skip): ": "",
    }
    prompts = list(answers)
    while True:
        index = child.expect_exact([*prompts, pexpect.EOF])
        if index == len(prompts):
            break
        child.sendline(answers[prompts[index]])
    child.close()
    output = transcript.getvalue()
    assert child.exitstatus == 0, output
    return output


def _printed_value(output: str) -> str:
    (value,) = re.findall(r"^(\{'access_token'.*\})\s*$", output, re.MULTILINE)
    return str(value)


@pytest.mark.timeout(120)
def test_advice_without_a_cache_prints_the_value_for_the_variable(
    signon: FakeTickTick, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OAuth2(env_key=..., cache_path=None)``: the printed login gives the variable's value."""
    monkeypatch.setenv("MY_TICKTICK_TOKEN", repr(token_dict("tok-env-old", EXPIRED)))
    with pytest.raises(ReauthorizationRequired) as caught:
        signon.oauth2(
            env_key="MY_TICKTICK_TOKEN", cache_path=None, authorizer=None, interactive=False
        )
    message = str(caught.value)
    (login,) = _quoted_commands(message)
    assert "set MY_TICKTICK_TOKEN to the value it prints" in message
    output = run_printed(login, signon, tmp_path)
    monkeypatch.setenv("MY_TICKTICK_TOKEN", _printed_value(output))
    oauth = signon.oauth2(
        env_key="MY_TICKTICK_TOKEN", cache_path=None, authorizer=None, interactive=False
    )
    assert oauth.token_source == "env:MY_TICKTICK_TOKEN"
    assert OpenAPI(oauth).list_projects() == []
    assert list(tmp_path.glob(".token-oauth*")) == []


@pytest.mark.timeout(120)
def test_advice_with_a_cache_file_and_a_variable_leads_to_both(
    signon: FakeTickTick, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative cache path, another scope, a variable: login, then export, as printed."""
    app = tmp_path / "app"
    app.mkdir()
    monkeypatch.chdir(app)
    monkeypatch.setenv("CI_TOKEN", repr(token_dict("tok-env-old", EXPIRED)))

    def client() -> OAuth2:
        return signon.oauth2(
            env_key="CI_TOKEN",
            cache_path="state/token",
            scope="tasks:read",
            authorizer=None,
            interactive=False,
        )

    with pytest.raises(ReauthorizationRequired) as caught:
        client()
    login, export = _quoted_commands(str(caught.value))
    elsewhere = tmp_path / "elsewhere"  # the person's terminal is in another folder
    elsewhere.mkdir()
    run_printed(login, signon, elsewhere)
    oauth = client()  # the expired variable falls through to the new cached token
    assert oauth.token_source == "cache:state/token"
    assert OpenAPI(oauth).list_projects() == []

    argv = shlex.split(export)
    exported = run_cli(*argv[1:], env=clean_env(CI_TOKEN="stale"), cwd=elsewhere)
    assert exported.returncode == 0, exported.stderr
    (app / "state" / "token").unlink()  # CI: only the variable
    monkeypatch.setenv("CI_TOKEN", exported.stdout)
    assert client().get_access_token() == oauth.get_access_token()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TICKTICK_CACHE_PATH", "other-cache"),
        ("TICKTICK_HOST", "dida365.com"),
        ("TICKTICK_STORE", "keyring"),
    ],
)
def test_advice_is_not_redirected_by_ticktick_variables_where_it_is_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Defaults are named too: a TICKTICK_* variable in the person's shell changes nothing."""
    monkeypatch.chdir(tmp_path)
    oauth = OAuth2(
        "cid",
        "sekrit-value-123",
        "http://127.0.0.1:8080/",
        env_key="ACCESS_TOKEN_DICT",
        resolve=False,
        interactive=False,
    )
    assert oauth.cache is not None
    oauth.cache.write(token_dict("tok-abcdef-123456", VALID))
    assert oauth.get_access_token(check_env="") == "tok-abcdef-123456"
    login, export = _quoted_commands(oauth.renewal_advice())
    assert "--host ticktick.com" in login
    argv = shlex.split(export)
    result = run_cli(
        *argv[1:], "--format", "json", env=clean_env(**{variable: value}), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["access_token"] == "tok-abcdef-123456"


@pytest.mark.timeout(120)
def test_expiry_warning_and_unauthorized_advice_lead_to_a_working_token(
    signon: FakeTickTick, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache" / "tok"
    first = signon.oauth2(cache_path=cache, authorizer=signon.approver()).get_access_token()
    stored = json.loads(cache.read_text())
    stored["expire_time"] = int(time.time()) + 3 * 86400  # three days left
    cache.write_text(json.dumps(stored))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        oauth = signon.oauth2(cache_path=cache, authorizer=None, interactive=False)
    (warning,) = [w for w in caught if issubclass(w.category, TokenExpiryWarning)]
    (login,) = _quoted_commands(str(warning.message))
    run_printed(login, signon, tmp_path)
    oauth.forget_token()
    second = oauth.get_access_token()
    assert second != first
    assert second in signon.issued

    signon.revoke(second)  # refused, and nobody to ask here
    with pytest.raises(ReauthorizationRequired) as needed:
        OpenAPI(oauth).list_projects()
    (login,) = _quoted_commands(str(needed.value))
    run_printed(login, signon, tmp_path)
    assert OpenAPI(oauth).list_projects() == []
    third = oauth.get_access_token()
    assert third not in (first, second)

    # A refused token from the variable: Unauthorized says to log in and replace the variable.
    monkeypatch.setenv("CI_TOKEN", cache.read_text())
    signon.revoke(third)
    ci = signon.oauth2(env_key="CI_TOKEN", cache_path=cache, authorizer=None, interactive=False)
    with pytest.raises(Unauthorized) as refused:
        OpenAPI(ci).list_projects()
    login, export = _quoted_commands(str(refused.value))
    run_printed(login, signon, tmp_path)
    exported = run_cli(
        *shlex.split(export)[1:], env=clean_env(CI_TOKEN=cache.read_text()), cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    monkeypatch.setenv("CI_TOKEN", exported.stdout)
    assert OpenAPI(ci).list_projects() == []
    assert ci.token_source == "env:CI_TOKEN"


def test_advice_for_a_client_with_nowhere_to_read_a_token(fake: FakeTickTick) -> None:
    """No cache and no variable: no command could help, so none is printed."""
    with pytest.raises(ReauthorizationRequired) as caught:
        fake.oauth2(cache_path=None, authorizer=None, interactive=False)
    message = str(caught.value)
    assert _quoted_commands(message) == []
    assert "keeps its token in memory only" in message


# -- 5. the resolver on its own: memory, environment, store, sign-on -------------------


class Resolving(Resolver):
    """A resolver whose sign-on hands out numbered tokens and records why it ran."""

    def __init__(self, store: TokenStore | None, env_key: str | None = "TOKEN_VAR") -> None:
        super().__init__(
            cache=store, env_key=env_key, expiry_margin=60, signon_timeout=5, lock=RLock()
        )
        self.sign_ons: list[str] = []

    def _sign_on(self, why: str) -> TokenDict:
        self.sign_ons.append(why)
        token = validate_token_dict(
            token_dict(f"signed-{len(self.sign_ons)}", VALID), source="test", advice=""
        )
        if self.cache is not None:
            self.cache.write(token)
        return token


IDENTITY = TokenIdentity("ticktick.com", "cid", "tasks:read tasks:write")


def test_resolver_order(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore(identity=IDENTITY)
    monkeypatch.setenv("TOKEN_VAR", repr(token_dict("env-expired", EXPIRED)))
    store.write(token_dict("stored-expired", EXPIRED))
    # 4. Nothing valid anywhere: a sign-on, told why, and its token stored.
    resolver = Resolving(store)
    assert resolver.get_access_token() == "signed-1"
    assert resolver.token_source == "authorization"
    (why,) = resolver.sign_ons
    assert "environment variable TOKEN_VAR expired" in why
    assert "memory expired" in why
    # 1. Memory first: neither a new variable nor the store is read again.
    monkeypatch.setenv("TOKEN_VAR", repr(token_dict("env-valid", VALID)))
    assert resolver.get_access_token() == "signed-1"
    # 2. The environment before the store, for a resolver with nothing in memory.
    assert Resolving(store).get_access_token() == "env-valid"
    # 3. The store, where the variable is skipped (or expired).
    skipping = Resolving(store)
    assert skipping.get_access_token(check_env="") == "signed-1"
    assert skipping.token_source == "cache:memory"
    assert skipping.sign_ons == []


def test_resolver_without_a_store_signs_on_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKEN_VAR", raising=False)
    resolver = Resolving(None)
    assert [resolver.get_access_token() for _ in range(3)] == ["signed-1"] * 3
    assert resolver.sign_ons == ["No token was found"]


def test_a_token_inside_the_expiry_margin_is_said_to_expire_not_to_have_expired(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    soon = {"access_token": "soon-token", "expire_time": int(time.time()) + 30}
    monkeypatch.setenv("SOON", json.dumps(soon))
    with pytest.raises(ReauthorizationRequired) as refused:
        OAuth2(
            "cid",
            "secret",
            "http://127.0.0.1:8080/",
            env_key="SOON",
            cache_path=tmp_path / "cache",
            interactive=False,
        )
    message = str(refused.value)
    assert "expired on" not in message
    assert "expires on" in message
    assert "within the expiry margin" in message
