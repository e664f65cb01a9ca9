"""The manners of the prompts and messages (issue 13, section 4), and the install docs.

Ctrl-D at each prompt names it; a pasted URL from an older tab is pasted again; the
paste prompt of ``--no-capture`` speaks of no redirect that "does not load"; the CLI's
messages name flags, not Python arguments; ``logout`` leaves no lock file; the demo
keeps exit code 3 for the CLI's meaning; the renewal is one pipe; the install is said
plainly. The prompts are played in a real pseudo-terminal against the fake TickTick.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pexpect
import pytest
import requests
from helpers import clean_env, free_port, run_cli, spawn_cli, token_dict, write_cache

from ticktick import StateMismatch
from ticktick.signon import AuthorizationRequest, SignOn
from ticktick.stores.locks import FileLock, file_lock
from ticktick.testing import FakeTickTick

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def terminal_env(tmp_path: Path) -> dict[str, str]:
    """A person's terminal: a display, a 'browser' that opens nothing, no TICKTICK_*."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    browser = bin_dir / "no-browser"
    browser.write_text("#!/bin/sh\nexit 0\n")
    browser.chmod(0o755)
    return clean_env(DISPLAY=":99", TERM="dumb", BROWSER=f"{browser} %s")


def approve(fake: FakeTickTick, url: str) -> str:
    """Click Allow on the fake's consent page for *url*; return where the browser goes."""
    form = {**dict(parse_qsl(urlsplit(url).query)), "decision": "allow"}
    answer = requests.post(
        f"{fake.url}/oauth/authorize", data=form, allow_redirects=False, timeout=5
    )
    return str(answer.headers["Location"])


def with_state(url: str, state: str) -> str:
    """*url* with its ``state`` replaced: the redirect of another sign-on (an older tab)."""
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), "state": state}
    return parts._replace(query=urlencode(query)).geturl()


def login_to_paste(
    fake: FakeTickTick,
    tmp_path: Path,
    env: dict[str, str],
    redirect: str,
    secret: str | None = None,
) -> tuple[pexpect.spawn[str], str]:
    """``login --no-capture`` in a pseudo-terminal, up to its paste prompt; and the URL.

    *secret* is the client secret the person gives (the fake's by default).
    """
    env = {**env, "TICKTICK_CLIENT_SECRET": secret or fake.client_secret}
    child = spawn_cli(
        *("login", "--host", fake.url, "--client-id", fake.client_id),
        *("--redirect-uri", redirect, "--no-browser", "--no-capture", "--timeout", "20"),
        *("--cache-path", str(tmp_path / "tok")),
        env=env,
        cwd=tmp_path,
    )
    child.logfile_read = io.StringIO()
    child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
    assert isinstance(child.match, re.Match)
    url = child.match.group(1)
    child.expect_exact("Redirected URL (or code): ")
    return child, url


def transcript(child: pexpect.spawn[str]) -> str:
    log = child.logfile_read
    assert isinstance(log, io.StringIO)
    return log.getvalue()


# -- 1. Ctrl-D at any prompt names that prompt -------------------------------------------

PROMPTS = [
    ("Enter your client id: ", "cid"),
    ("Enter your client secret: ", "secret-value-1"),
    ("Enter your OAuth redirect URL: ", "http://127.0.0.1:{port}/"),
    ("Open the browser to sign on? [Y/n]: ", "n"),
    ("Redirected URL (or code): ", ""),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("at", range(len(PROMPTS)), ids=[p[0].split()[-2] for p in PROMPTS])
def test_ctrl_d_at_each_login_prompt_names_that_prompt(
    tmp_path: Path, terminal_env: dict[str, str], at: int
) -> None:
    child = spawn_cli("login", "--timeout", "20", env=terminal_env, cwd=tmp_path)
    port = free_port()
    for prompt, answer in PROMPTS[:at]:
        child.expect_exact(prompt)
        child.sendline(answer.format(port=port))
    prompt = PROMPTS[at][0]
    child.expect_exact(prompt)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before or ""
    errors = [line for line in shown.splitlines() if line.startswith("ticktick-auth")]
    assert child.exitstatus == 1, shown
    assert errors == [
        f"ticktick-auth: Standard input closed at the prompt {prompt.strip()[:-1]!r} before "
        "an answer was given. Authorize again from a terminal and answer it."
    ], shown
    assert "redirect URL was pasted" not in shown


@pytest.mark.timeout(60)
def test_ctrl_d_at_an_offer_names_that_offer(tmp_path: Path, terminal_env: dict[str, str]) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child, url = login_to_paste(fake, tmp_path, terminal_env, redirect)
        child.sendline(approve(fake, url))
        prompt = "Do you want to print the token and its expiration? [Y/n]: "
        child.expect_exact(prompt)
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
    shown = transcript(child)
    assert child.exitstatus == 0, shown
    assert f"No answer at {prompt.strip()[:-1]!r} (input closed); it is stored in" in shown


# -- 2. a URL from an older tab is pasted again ------------------------------------------


@pytest.mark.timeout(60)
def test_a_url_from_an_older_tab_may_be_pasted_again(
    tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child, url = login_to_paste(fake, tmp_path, terminal_env, redirect)
        back = approve(fake, url)
        child.sendline(with_state(back, "state-of-an-older-tab"))
        child.expect_exact("from an earlier attempt (an older browser tab), or forged.")
        child.expect_exact("Try again (2 left).")
        child.expect_exact("Redirected URL (or code): ")
        child.sendline(back)
        child.expect_exact("Do you want to print the token and its expiration? [Y/n]: ")
        child.sendline("n")
        child.expect_exact("(empty to skip): ")
        child.sendline("")
        child.expect(pexpect.EOF)
        child.close()
        (token,) = fake.issued
        assert fake.token_requests == 1  # the older tab's code was never sent
    shown = transcript(child)
    assert child.exitstatus == 0, shown
    assert token in (tmp_path / "tok").read_text()
    # 3. With --no-capture nothing listens: no redirect that "does not load".
    assert "does not load" not in shown
    assert f"After you click Allow, the browser goes to {redirect}" in shown


class Answers:
    """Pasted answers, one per prompt; records what was asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str, timeout: float, cancelled: object) -> str | None:
        self.prompts.append(prompt)
        return self.answers.pop(0)


REQUEST = AuthorizationRequest(
    url="https://ticktick.com/oauth/authorize?state=this-one",
    state="this-one",
    redirect_uri="https://example.org/callback",
)


def test_another_state_counts_as_one_of_the_attempts() -> None:
    older = "https://example.org/callback?code=old-code&state=an-older-one"
    out = io.StringIO()
    answers = Answers(older, "https://example.org/callback?code=new-code&state=this-one")
    assert SignOn(paste=True, read_line=answers, output=out)(REQUEST) == "new-code"
    assert "an older browser tab" in out.getvalue()
    assert "Try again (2 left)." in out.getvalue()
    with pytest.raises(StateMismatch, match="Gave up after 2 unusable answers"):
        SignOn(paste=True, read_line=Answers(older, older), output=io.StringIO(), attempts=2)(
            REQUEST
        )


def test_only_a_capturing_sign_on_speaks_of_a_redirect_that_does_not_load() -> None:
    port = free_port()
    request = AuthorizationRequest(
        url="https://ticktick.com/oauth/authorize?state=this-one",
        state="this-one",
        redirect_uri=f"http://127.0.0.1:{port}/",
    )
    for capture in (True, False):
        out = io.StringIO()
        answer = Answers(f"http://127.0.0.1:{port}/?code=c0de&state=this-one")
        SignOn(open_browser=False, capture=capture, paste=True, read_line=answer, output=out)(
            request
        )
        assert ("does not load" in out.getvalue()) is capture, out.getvalue()


# -- 4. the CLI speaks in flags ------------------------------------------------------------

PYTHON_SPELLING = re.compile(r"\b(host|redirect_uri|cache_path|env_key|client_id)=|redirect_uri")


@pytest.mark.parametrize(
    ("argv", "env", "said"),
    [
        (["status", "--host", "ftp://x"], {}, "Use --host ticktick.com (international)"),
        (
            ["status"],
            {"TICKTICK_HOST": "https://api.ticktick.com/x"},
            "use --host ticktick.com (every URL",
        ),
        (
            ["login", "--client-id", "c", "--redirect-uri", "ftp://x"],
            {},
            "--redirect-uri must be the full redirect URL",
        ),
        (["token", "--cache-path", "loop"], {}, "pass another --cache-path."),
    ],
    ids=["host-flag", "host-variable", "redirect-uri", "cache-path"],
)
def test_cli_messages_name_flags_not_arguments(
    tmp_path: Path, argv: list[str], env: dict[str, str], said: str
) -> None:
    (tmp_path / "loop").symlink_to("loop")  # a cache path that cannot be opened
    result = run_cli(*argv, env=clean_env(**env), cwd=tmp_path)
    assert result.returncode in (1, 2), result.stderr
    assert said in result.stderr
    assert not PYTHON_SPELLING.search(result.stderr), result.stderr


def test_one_mechanism_arguments_in_the_library_flags_while_the_cli_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same message: ``host=`` from the library, ``--host`` while ``ticktick-auth`` runs."""
    from ticktick.cli import main
    from ticktick.endpoints import resolve_host
    from ticktick.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"Use host='ticktick\.com' \(international\)"):
        resolve_host("ftp://x")
    with pytest.raises(SystemExit):
        main(["status", "--host", "ftp://x"])
    assert "Use --host ticktick.com (international)" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match=r"host='dida365\.com'"):
        resolve_host("ftp://x")  # the command's run is over: the library's words again


@pytest.mark.timeout(60)
def test_a_refused_token_request_names_the_host_flag(
    tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child, url = login_to_paste(fake, tmp_path, terminal_env, redirect, "a-wrong-secret")
        child.sendline(approve(fake, url))
        child.expect(pexpect.EOF)
        child.close()
    shown = transcript(child)
    assert child.exitstatus == 1, shown
    (error,) = [line for line in shown.splitlines() if line.startswith("ticktick-auth:")]
    assert "invalid_client" in error
    assert "that --host is the region the app is registered in" in error
    assert not PYTHON_SPELLING.search(error), error


# -- 5. logout leaves no lock file -----------------------------------------------------------


@pytest.mark.parametrize("before", ["nothing", "a token", "a token and a free lock"])
def test_logout_leaves_no_lock_file(tmp_path: Path, before: str) -> None:
    cache = tmp_path / "tok"
    if before != "nothing":
        write_cache(cache, token_dict())
    if before == "a token and a free lock":
        (tmp_path / "tok.lock").write_text("")
    result = run_cli("logout", "--cache-path", str(cache), env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_refused_logout_leaves_no_lock_file(tmp_path: Path, kind: str) -> None:
    """A cache path that is a FIFO or a folder: logout refuses it (exit 1) and removes
    the lock file it made on the way."""
    cache = tmp_path / "tok"
    if kind == "fifo":
        os.mkfifo(cache)
    else:
        cache.mkdir()
    result = run_cli("logout", "--cache-path", str(cache), env=clean_env(), cwd=tmp_path)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["tok"]


def test_a_held_lock_file_stays(tmp_path: Path) -> None:
    path = str(tmp_path / "tok.lock")
    shared = file_lock(path)
    with shared.hold():  # held by this thread
        assert not shared.remove_if_free()
    other = FileLock(path)  # another holder: its own open file, as another process has
    with other.hold():
        assert not shared.remove_if_free()
        assert os.path.exists(path)
    assert shared.remove_if_free()
    assert not os.path.exists(path)
    with shared.hold():  # made again on the next use
        assert os.path.exists(path)


# -- 6. the demo's exit codes and the word "seed" -------------------------------------------


def test_the_demo_does_not_reuse_the_clis_exit_code_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ticktick.testing.demo import run

    assert run(tmp_path) == 0
    out = capsys.readouterr().out
    assert "exit status 1, with no prompt:" in out
    assert "exit status 3" not in out


def test_no_seed_in_the_user_docs() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    seeded = [
        f"{page.relative_to(ROOT)}:{number}"
        for page in pages
        for number, line in enumerate(page.read_text().splitlines(), 1)
        if re.search(r"\bseed", line, re.IGNORECASE)
    ]
    assert seeded == []


# -- 7. the renewal is one pipe --------------------------------------------------------------


def test_export_pipes_the_value_alone_into_a_secret(tmp_path: Path) -> None:
    write_cache(tmp_path / ".token-oauth", token_dict("tok-for-the-pipe"))
    exported = run_cli("export", env=clean_env(), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.startswith("# From ")  # the note is not in the pipe
    value = exported.stdout
    assert value.endswith("\n")
    assert value.count("\n") == 1
    assert ast.literal_eval(value)["access_token"] == "tok-for-the-pipe"
    # What the CI then reads, with the line break (curl keeps it) or without (gh drops it).
    for secret in (value, value.rstrip("\n")):
        used = run_cli(
            "token", "--cache-path", "none", env=clean_env(ACCESS_TOKEN_DICT=secret), cwd=tmp_path
        )
        assert used.stdout == "tok-for-the-pipe\n", used.stderr
    ci = (ROOT / "docs" / "ci.md").read_text()
    assert "$ ticktick-auth export | gh secret set ACCESS_TOKEN_DICT\n" in ci
    assert "$ ticktick-auth export | glab variable update ACCESS_TOKEN_DICT" in ci
    assert "--data-urlencode value@-" in ci


# -- 8. how to install, said plainly ----------------------------------------------------------


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_the_install_is_said_plainly(page: str) -> None:
    text = (ROOT / page).read_text()
    install = text[text.index("## Install") :]
    install = install[: install.index("\n## ", 4)]
    for needed in (
        "pip install .",
        "make dist",
        "pip install dist/ticktick_oauth-*.whl",
        "pip install ticktick-oauth",
        ".venv/bin/ticktick-auth",
        "source .venv/bin/activate",
        "urllib3==1.26.7",
        "TickTickClient",
        "migrating.md#keeping-ticktick-pys-ticktickclient",
    ):
        assert needed in install, needed
    migrating = (ROOT / "docs" / "migrating.md").read_text()
    assert "## Keeping ticktick-py's `TickTickClient`" in migrating
    assert "ticktick-auth export)" in migrating


def test_make_dist_builds_with_python_m_build() -> None:
    dry = subprocess.run(
        ["make", "-n", "dist", "VENV=.venv-x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert ".venv-x/bin/python -m build --outdir dist ." in dry.stdout
    assert "    build>=1\n" in (ROOT / "setup.cfg").read_text()  # the real build needs the index
