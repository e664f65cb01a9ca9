"""Profiles: two accounts (one on a Dida365-like server) signed on and used side by side.

Real fake servers, real processes, real files: ``login --profile`` in a subprocess with no
terminal, the person's browser played by ``follow_sign_on``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from helpers import (
    clean_env,
    finish_cli,
    follow_sign_on,
    free_port,
    login_argv,
    read_to_authorize_url,
    run_cli,
    start_cli,
    token_dict,
    write_cache,
)
from keyrings.alt.file import PlaintextKeyring

from ticktick import OAuth2, OpenAPI
from ticktick.cli import main
from ticktick.errors import ConfigurationError, ReauthorizationRequired
from ticktick.profiles import Profile, ProfilesFile, config_dir
from ticktick.testing import FakeTickTick


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of this test's own (``XDG_CONFIG_HOME``), for this process too."""
    folder = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    for name in ("TICKTICK_PROFILE", "TICKTICK_CLIENT_SECRET", "TICKTICK_CACHE_PATH"):
        monkeypatch.delenv(name, raising=False)
    return folder / "ticktick-auth"


def sign_on(fake: FakeTickTick, argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run ``login`` (no terminal), approve it in the 'browser'; return what it said."""
    proc = start_cli(*argv, env=env, cwd=cwd)
    assert proc.stderr is not None
    seen: list[str] = []
    url = read_to_authorize_url(proc.stderr, fake, seen)
    if url is None:
        proc.kill()
        proc.communicate(timeout=30)
        raise AssertionError("".join(seen))
    assert follow_sign_on(url).status_code == 200
    out, err = finish_cli(proc)
    said = out + "".join(seen) + err
    assert proc.returncode == 0, said
    return said


@pytest.fixture
def two_accounts() -> Iterator[tuple[FakeTickTick, FakeTickTick, str, str]]:
    """A TickTick-like and a Dida365-like fake, each with its own app, auto-approving."""
    redirect_a = f"http://127.0.0.1:{free_port()}/"
    redirect_b = f"http://127.0.0.1:{free_port()}/callback"
    with (
        FakeTickTick(
            client_id="personal-app",
            client_secret="personal-secret-9f3a",
            redirect_uris=[redirect_a],
            auto_approve=True,
        ) as ticktick,
        FakeTickTick(
            client_id="dida-app",
            client_secret="dida-secret-77c1",
            redirect_uris=[redirect_b],
            auto_approve=True,
        ) as dida,
    ):
        yield ticktick, dida, redirect_a, redirect_b


def test_two_profiles_side_by_side(
    tmp_path: Path,
    xdg: Path,
    two_accounts: tuple[FakeTickTick, FakeTickTick, str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticktick, dida, redirect_a, redirect_b = two_accounts
    env = clean_env(XDG_CONFIG_HOME=str(xdg.parent))
    said = sign_on(
        ticktick,
        login_argv(ticktick, redirect_a, "--profile", "personal", "--output", "cache", timeout=30),
        {**env, "TICKTICK_CLIENT_SECRET": ticktick.client_secret},
        tmp_path,
    )
    assert "Remembered the settings of the profile 'personal'" in said
    sign_on(
        dida,
        login_argv(dida, redirect_b, "--profile", "work", "--output", "cache", timeout=30),
        {**env, "TICKTICK_CLIENT_SECRET": dida.client_secret},
        tmp_path,
    )
    # Each profile reads its own token, issued by its own server.
    personal = run_cli("token", "--profile", "personal", env=env, cwd=tmp_path)
    work = run_cli("token", "--profile", "work", env=env, cwd=tmp_path)
    assert personal.returncode == work.returncode == 0, personal.stderr + work.stderr
    token_a, token_b = personal.stdout.strip(), work.stdout.strip()
    assert token_a in ticktick.issued
    assert token_b in dida.issued
    assert token_a != token_b
    by_variable = run_cli("token", env={**env, "TICKTICK_PROFILE": "work"}, cwd=tmp_path)
    assert by_variable.stdout.strip() == token_b
    # Two token files, apart; one config file, private, without a secret.
    assert (xdg / "personal.token-oauth").is_file()
    assert (xdg / "work.token-oauth").is_file()
    config = xdg / "profiles.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    raw = config.read_bytes()
    for secret in (ticktick.client_secret, dida.client_secret, token_a, token_b):
        assert secret.encode() not in raw
    profiles = json.loads(raw)["profiles"]
    assert profiles["work"]["host"] == dida.url
    assert profiles["work"]["redirect_uri"] == redirect_b
    assert profiles["personal"]["client_id"] == "personal-app"
    # status and export name their profile's host and token.
    status = run_cli("status", "--profile", "work", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"host:     {dida.url}" in status.stdout
    assert "work.token-oauth" in status.stdout
    listed = run_cli("status", "--all", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["profile", "host", "days", "left", "source"]
    assert lines[1].startswith("personal")
    assert ticktick.url in lines[1]
    assert lines[2].startswith("work")
    assert dida.url in lines[2]
    assert "personal.token-oauth" in lines[1]
    assert "work.token-oauth" in lines[2]
    # The Python client of each profile reads the same token, and the Open API takes it.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg.parent))
    for name, server, token in (("personal", ticktick, token_a), ("work", dida, token_b)):
        oauth = OAuth2.from_profile(name, interactive=False)
        assert oauth.get_access_token() == token
        OpenAPI(oauth).list_projects()
        assert server.requests[-1].headers["Authorization"] == f"Bearer {token}"
    # A second login needs no flag but --profile; the other profile's token is untouched.
    again = ["login", "--profile", "personal", "--no-browser", "--timeout", "30"]
    sign_on(
        ticktick,
        [*again, "--output", "cache"],
        {**env, "TICKTICK_CLIENT_SECRET": "personal-secret-9f3a"},
        tmp_path,
    )
    renewed = run_cli("token", "--profile", "personal", env=env, cwd=tmp_path).stdout.strip()
    assert renewed != token_a
    assert renewed in ticktick.issued
    assert run_cli("token", "--profile", "work", env=env, cwd=tmp_path).stdout.strip() == token_b
    # Logging out of one leaves the other.
    out = run_cli("logout", "--profile", "personal", env=env, cwd=tmp_path)
    assert out.returncode == 0
    assert "personal.token-oauth" in out.stdout
    assert not (xdg / "personal.token-oauth").exists()
    assert run_cli("token", "--profile", "work", env=env, cwd=tmp_path).stdout.strip() == token_b
    gone = run_cli("token", "--profile", "personal", env=env, cwd=tmp_path)
    assert gone.returncode == 1
    assert "ticktick-auth login --profile personal" in gone.stderr
    # With nothing that selects an app, login uses the default profile (the first saved).
    said = sign_on(
        ticktick,
        ["login", "--no-browser", "--timeout", "30"],
        {**env, "TICKTICK_CLIENT_SECRET": "personal-secret-9f3a"},
        tmp_path,
    )
    assert "Using the profile 'personal', the default in " in said
    back = run_cli("token", "--profile", "personal", env=env, cwd=tmp_path).stdout.strip()
    assert back in ticktick.issued
    assert not (tmp_path / ".token-oauth").exists()


def test_status_all_lists_every_profile_with_its_region(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = ProfilesFile()
    assert (
        profiles.path == str(xdg / "profiles.json") == os.path.join(config_dir(), "profiles.json")
    )
    redirect = "http://127.0.0.1:8080/"
    for name, host in (("home", "ticktick.com"), ("china", "dida365.com"), ("old", "ticktick.com")):
        profiles.save(Profile(name, {"client_id": "cid", "redirect_uri": redirect, "host": host}))
    write_cache(Path(profiles.token_path("home")), token_dict("tok-home"))
    write_cache(Path(profiles.token_path("china")), token_dict("tok-china"), host="dida365.com")
    assert main(["status", "--all"]) == 1  # "old" has no token
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [
        ["china", "dida365.com"],
        ["home", "ticktick.com"],
        ["old", "ticktick.com"],
    ]
    assert "china.token-oauth" in lines[1]
    assert re.search(r" (99\.\d|100\.0) ", lines[1]), lines[1]
    assert "no token" in lines[3]
    assert main(["status", "--all", "--min-days", "150"]) == 1
    write_cache(Path(profiles.token_path("old")), token_dict("tok-old"))
    assert main(["status", "--all", "--min-days", "150"]) == 3  # the expiry alarm of all
    assert main(["status", "--all", "--min-days", "14"]) == 0
    capsys.readouterr()
    assert main(["token", "--profile", "china"]) == 0
    assert capsys.readouterr().out == "tok-china\n"
    # The first profile saved is the default of OAuth2.from_profile().
    oauth = OAuth2.from_profile(interactive=False)
    assert oauth.endpoints.host == "ticktick.com"
    assert oauth.get_access_token() == "tok-home"


def test_unknown_profile_names_the_known_ones(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ProfilesFile().save(
        Profile("work", {"client_id": "cid", "redirect_uri": "http://127.0.0.1:8080/"})
    )
    for argv in (["token", "--profile", "home"], ["status", "--profile", "home"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "There is no profile 'home'" in err
        assert "known profiles: work" in err
    with pytest.raises(ConfigurationError, match="known profiles: work"):
        OAuth2.from_profile("home")
    assert main(["status", "--all"]) == 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["token", "--profile", "../etc"])
    assert exited.value.code == 2
    assert "argument --profile: is not a profile name" in capsys.readouterr().err


def test_a_bad_profile_variable_is_a_usage_error(
    xdg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICKTICK_PROFILE", "a/b")
    assert main(["token"]) == 2
    err = capsys.readouterr().err
    assert "TICKTICK_PROFILE (the default of --profile) is not a profile name" in err


@pytest.mark.parametrize("value", ["../etc", "nosuch"])
def test_a_profile_named_by_the_variable_says_so(
    xdg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """Set in a shell profile or a CI job, never typed: the error names the variable."""
    ProfilesFile().save(
        Profile("work", {"client_id": "cid", "redirect_uri": "http://127.0.0.1:8080/"})
    )
    monkeypatch.setenv("TICKTICK_PROFILE", value)
    with pytest.raises(ConfigurationError, match="environment variable TICKTICK_PROFILE"):
        OAuth2.from_profile()
    assert main(["token"]) == 2
    assert "TICKTICK_PROFILE" in capsys.readouterr().err
    assert OAuth2.from_profile("work", client_secret="s", resolve=False)  # a name given wins


@pytest.mark.parametrize("kind", ["folder", "fifo", "config-is-a-file", "foreign"])
@pytest.mark.parametrize(
    "argv",
    [
        ("token", "--profile", "w"),
        ("login", "--api-token", "--profile", "w", "--host", "http://127.0.0.1:9"),
        ("login", "--profile", "w", "--client-id", "cid", "--host", "http://127.0.0.1:9"),
        ("status", "--all"),
    ],
    ids=["token", "login-api-token", "login", "status-all"],
)
def test_an_unusable_profiles_file_is_a_one_line_error(
    tmp_path: Path, kind: str, argv: tuple[str, ...]
) -> None:
    config = tmp_path / "cfg"
    folder = config / "ticktick-auth"
    folder.mkdir(parents=True)
    path = folder / "profiles.json"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "config-is-a-file":
        config = tmp_path / "a-file"
        config.write_text("x")
    else:
        path.write_text('{"version": 1, "profiles": {"w": {"host": "ticktick.com"}}}')
        if os.geteuid() != 0:
            pytest.skip("making a file of another user needs root")
        os.chown(path, 12345, 12345)
    env = clean_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(config))
    result = run_cli(*argv, env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert "profiles file" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3  # its message, not a traceback


def test_a_corrupt_config_is_set_aside_not_clobbered(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xdg.mkdir(parents=True)
    config = xdg / "profiles.json"
    config.write_bytes(b'{"profiles": {"work": [1, 2')
    assert main(["token", "--profile", "work"]) == 2
    assert "is not valid (not JSON); it is left as is" in capsys.readouterr().err
    assert config.read_bytes() == b'{"profiles": {"work": [1, 2'
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        env = clean_env(XDG_CONFIG_HOME=str(xdg.parent), TICKTICK_CLIENT_SECRET=fake.client_secret)
        argv = login_argv(fake, redirect, "--profile", "work", "--output", "cache", timeout=30)
        sign_on(fake, argv, env, tmp_path)
    asides = list(xdg.glob("profiles.json.corrupt-*"))
    assert len(asides) == 1
    assert asides[0].read_bytes() == b'{"profiles": {"work": [1, 2'
    assert json.loads(config.read_text())["profiles"]["work"]["client_id"] == fake.client_id


def test_from_profile_needs_no_secret_for_a_cached_token_and_says_how_to_renew(
    xdg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = ProfilesFile()
    redirect = "http://127.0.0.1:8080/"
    profiles.save(Profile("work", {"client_id": "cid", "redirect_uri": redirect}))
    monkeypatch.setenv("TICKTICK_PROFILE", "work")
    with pytest.raises(ReauthorizationRequired, match="ticktick-auth login --client-id cid") as e:
        OAuth2.from_profile(interactive=False)
    assert str(e.value).count("--profile work") == 1  # the command that renews it
    write_cache(Path(profiles.token_path("work")), token_dict("tok-work"))
    assert OAuth2.from_profile().get_access_token() == "tok-work"


def test_a_profile_setting_that_cannot_work_is_named(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xdg.mkdir(parents=True)
    (xdg / "profiles.json").write_text(
        json.dumps({"profiles": {"work": {"client_id": "cid", "host": "example.com"}}})
    )
    assert main(["status", "--profile", "work"]) == 2
    err = capsys.readouterr().err
    assert "The host of the profile 'work'" in err
    assert "is not a usable host" in err


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real, file-backed keyring backend (keyrings.alt), in this test's folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "data" / "keyring_pass.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_a_sign_on_takes_the_secret_from_the_keyring_only_when_it_needs_one(
    xdg: Path, file_keyring: None, fake: FakeTickTick
) -> None:
    redirect = fake.clients[fake.client_id].redirect_uris[0]
    ProfilesFile().save(
        Profile("work", {"client_id": fake.client_id, "redirect_uri": redirect, "host": fake.url})
    )
    with pytest.raises(ConfigurationError, match="needs its app's client secret"):
        OAuth2.from_profile("work", authorizer=fake.approver())  # nothing to sign on with
    assert fake.token_requests == 0
    keyring.set_password("ticktick-oauth", f"client_secret:{fake.client_id}", fake.client_secret)
    oauth = OAuth2.from_profile("work", authorizer=fake.approver())
    assert oauth.get_access_token() in fake.issued
    assert fake.token_requests == 1
    assert b"fake-client-secret" not in (xdg / "profiles.json").read_bytes()


def test_from_profile_with_no_secret_anywhere_fails_before_the_sign_on(
    xdg: Path, file_keyring: None, fake: FakeTickTick
) -> None:
    redirect = fake.clients[fake.client_id].redirect_uris[0]
    ProfilesFile().save(
        Profile("work", {"client_id": fake.client_id, "redirect_uri": redirect, "host": fake.url})
    )
    with pytest.raises(ConfigurationError, match="client secret"):
        OAuth2.from_profile("work", authorizer=fake.approver())
    assert fake.codes_issued == []  # nobody was sent to sign on for nothing
    assert fake.requests_to("/oauth/authorize") == []


def test_two_accounts_of_one_app_stay_apart_in_the_keyring(
    xdg: Path, file_keyring: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The keyring keeps one entry per host, app and scope: each profile has its own service."""
    profiles = ProfilesFile()
    for name in ("me", "partner"):
        settings = {"client_id": "cid", "redirect_uri": "http://127.0.0.1:8080/"}
        profiles.save(Profile(name, {**settings, "store": "keyring"}))
        client = OAuth2.from_profile(name, client_secret="unused", resolve=False)
        assert client.cache is not None
        client.cache.write(token_dict(f"tok-{name}"))
    for name in ("me", "partner"):
        assert OAuth2.from_profile(name).get_access_token() == f"tok-{name}"
        assert main(["token", "--profile", name]) == 0
        assert capsys.readouterr().out == f"tok-{name}\n"
    assert main(["logout", "--profile", "me"]) == 0
    assert main(["token", "--profile", "me"]) == 1
    assert main(["token", "--profile", "partner"]) == 0
    assert capsys.readouterr().out.endswith("tok-partner\n")


def test_app_flags_turn_an_api_token_profile_into_the_apps(tmp_path: Path, xdg: Path) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        env = clean_env(XDG_CONFIG_HOME=str(xdg.parent), TICKTICK_CLIENT_SECRET=fake.client_secret)
        api_token = fake.issue_api_token()
        api_login = ("login", "--api-token", "--profile", "me", "--host", fake.url)
        first = subprocess.run(
            [sys.executable, "-m", "ticktick", *api_login],
            input=api_token,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert first.returncode == 0, first.stderr
        assert ProfilesFile().get("me").kind == "api_token"
        # The person registers an app and moves the profile to it, with the app's flags.
        said = sign_on(
            fake, login_argv(fake, redirect, "--profile", "me", timeout=30), env, tmp_path
        )
        issued = set(fake.issued)
    assert "Paste your personal API token" not in said
    profile = ProfilesFile().get("me")
    assert profile.kind is None
    assert profile.client_id == fake.client_id
    assert profile.redirect_uri == redirect
    assert profile.cache_path is not None
    assert json.loads(Path(profile.cache_path).read_text())["access_token"] in issued
    (aside,) = xdg.glob("me.token-oauth.foreign-*")  # the API token is set aside, not lost
    assert api_token in aside.read_text()


def test_a_profile_that_cannot_be_saved_never_costs_the_new_token(
    tmp_path: Path, xdg: Path
) -> None:
    """``login --profile w --no-cache --output json``: the token is printed first."""
    (xdg / "profiles.json.lock").mkdir(parents=True)  # the profiles file cannot be locked
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        env = clean_env(XDG_CONFIG_HOME=str(xdg.parent), TICKTICK_CLIENT_SECRET=fake.client_secret)
        argv = login_argv(fake, redirect, "--profile", "w", "--no-cache", "--output", "json")
        proc = start_cli(*argv, env=env, cwd=tmp_path)
        assert proc.stderr is not None
        seen: list[str] = []
        url = read_to_authorize_url(proc.stderr, fake, seen)
        assert url is not None, "".join(seen)
        assert follow_sign_on(url).status_code == 200
        out, err = finish_cli(proc)
        (issued,) = fake.issued
    assert json.loads(out)["access_token"] == issued  # delivered, whatever came after
    assert proc.returncode == 1  # the token was got; saving the profile failed
    assert "the profile 'w' was not saved" in err
    assert issued not in err
    assert not (xdg / "profiles.json").exists()


def test_flags_win_over_the_profile_and_only_login_saves_them(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        env = clean_env(XDG_CONFIG_HOME=str(xdg.parent), TICKTICK_CLIENT_SECRET=fake.client_secret)
        argv = login_argv(fake, redirect, "--profile", "work", "--output", "cache", timeout=30)
        sign_on(fake, argv, env, tmp_path)
        saved = (xdg / "profiles.json").read_bytes()
        # Another command: the flag is used, the profile is not changed.
        assert main(["status", "--profile", "work", "--host", "dida365.com"]) == 1
        assert "No token for dida365.com" in capsys.readouterr().out
        assert (xdg / "profiles.json").read_bytes() == saved
        # TICKTICK_* variables come after the profile.
        variables = {**env, "TICKTICK_HOST": "dida365.com", "TICKTICK_CLIENT_ID": "other"}
        token = run_cli("token", "--profile", "work", env=variables, cwd=tmp_path)
        assert token.returncode == 0, token.stderr
        assert token.stdout.strip() in fake.issued
        # login saves its flags into the profile.
        again = ["login", "--profile", "work", "--scope", "tasks:read", "--no-browser"]
        sign_on(fake, [*again, "--timeout", "30", "--output", "cache"], env, tmp_path)
        url = fake.url
    work = json.loads((xdg / "profiles.json").read_text())["profiles"]["work"]
    assert work["scope"] == "tasks:read"
    assert work["host"] == url
    assert work["cache_path"] == str(xdg / "work.token-oauth")
