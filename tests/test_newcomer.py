"""The newcomer's path with no account, end to end, as docs/try-it.md tells it.

``python -m ticktick.testing serve`` runs as a subprocess; ``ticktick-auth login`` runs
in a real pseudo-terminal with the command ``serve`` printed; the person clicks Allow
in a real headless Chromium; then ``status``, ``token``, ``export`` and ``logout`` run
without ``--host``, each succeeding. Needs Chromium and Playwright, as
tests/test_browser.py does (it skips, with the reason, where either is missing).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from helpers import assert_port_free, clean_env, free_port, spawn_cli
from test_browser import (  # the same needs as the browser tests: Playwright, Chromium
    CHROMIUM,
    CHROMIUM_ARGS,
    pytestmark,
)
from test_serve import Served, start_serve

__all__ = ["pytestmark"]  # pytest reads it from this module too


@pytest.fixture
def server() -> Iterator[Served]:
    """``serve`` with a free port for the redirect URI, killed at the end if still running."""
    one = start_serve("--redirect-uri", f"http://127.0.0.1:{free_port()}/")
    yield one
    if one.process.poll() is None:
        one.process.kill()
        one.process.wait(timeout=15)


def click_allow(url: str) -> str:
    """A person opens *url* in headless Chromium and clicks Allow; return the page's text."""
    from playwright.sync_api import sync_playwright  # here: pytestmark skips without it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 720, "height": 560})
            page.goto(url)
            page.wait_for_selector("#allow")
            page.click("#allow")
            page.wait_for_load_state()
            return page.inner_text("body")
        finally:
            browser.close()


def run_in_pty(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """``ticktick-auth ARGV`` in a pseudo-terminal, to its end: the exit code and output."""
    child = spawn_cli(*argv, env=env, cwd=cwd)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None
    return child.exitstatus, (child.before or "").replace("\r\n", "\n")


@pytest.mark.timeout(180)
def test_a_newcomer_tries_every_command_against_the_fake(tmp_path: Path, server: Served) -> None:
    # The login command exactly as `serve` printed it, the secret from the environment.
    secret_line, command = server.login.split(" ticktick-auth ", 1)
    assert secret_line == f"export TICKTICK_CLIENT_SECRET={server.client_secret}"
    argv = command.split()
    assert argv[:3] == ["login", "--host", server.url]
    # A desktop with no browser to start and no clipboard tool: the person opens the URL.
    env = clean_env(TICKTICK_CLIENT_SECRET=server.client_secret, TERM="dumb")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["BROWSER"] = "true"  # the browser "opens" nothing: the person copies the URL
    env["PATH"] = os.path.dirname(shutil.which("true") or "/bin/true")
    transcript = io.StringIO()
    child = spawn_cli(*argv, env=env, cwd=tmp_path)
    child.logfile_read = transcript
    child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
    assert isinstance(child.match, re.Match)
    url = child.match.group(1)
    child.expect_exact("Open the browser to sign on? [Y/n]: ")
    child.sendline("n")  # the person opens the URL themselves
    assert "Authorization complete" in click_allow(url)
    while True:  # the offers after the sign-on: print the token? save it to a file?
        index = child.expect([r"\[Y/n\]: ", r"\(empty to skip\): ", pexpect.EOF], timeout=60)
        if index == 2:
            break
        child.sendline("n" if index == 0 else "")
    child.close()
    output = transcript.getvalue()
    assert child.exitstatus == 0, output
    assert server.client_secret not in output
    cache = tmp_path / ".token-oauth"
    assert cache.exists(), output

    # No --host from here on: each command finds the host recorded with the token.
    code, status = run_in_pty(["status"], env, tmp_path)
    assert code == 0, status
    assert f"host:     {server.url}" in status
    assert "status:   valid" in status
    code, token = run_in_pty(["token"], env, tmp_path)
    assert code == 0, token
    token = token.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", token), token
    code, exported = run_in_pty(["export"], env, tmp_path)
    assert code == 0, exported
    assert f"'access_token': '{token}'" in exported
    code, logout = run_in_pty(["logout"], env, tmp_path)
    assert code == 0, logout
    assert "Removed the cached token" in logout
    assert not cache.exists()

    port = server.url.rsplit(":", 1)[1]
    code_, rest = server.stop(signal.SIGINT)
    assert code_ == 0, rest
    assert_port_free(int(port))
