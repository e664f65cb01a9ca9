"""The countdown line: on a terminal, a wait says what it waits for and the time left.

The wait for the browser (above the paste prompt, or on its own line when nothing can
be pasted) and the wait for a lock another process holds each show one line updated
in place. With no terminal (a pipe, a CI log) the plain lines stay, with no carriage
return. Real processes in real pseudo-terminals (pexpect).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pexpect
import pytest
import requests
from helpers import (
    clean_env,
    finish_cli,
    free_port,
    hold_in_a_thread,
    start_cli,
    token_dict,
    write_cache,
)

from ticktick.stores.locks import FileLock
from ticktick.testing import FakeTickTick

LEFT = r"(\d+):(\d\d) left \(Ctrl-C to stop\)"
"""The end of a countdown line: the time left, as m:ss."""


def _seconds(match: re.Match[str]) -> int:
    minutes, seconds = match.groups()[-2:]
    return int(minutes) * 60 + int(seconds)


def _allow(fake: FakeTickTick, url: str) -> None:
    """Click Allow on the consent page for *url*; the browser follows to the redirect URI."""
    form = {**dict(parse_qsl(urlsplit(url).query)), "decision": "allow"}
    answer = requests.post(f"{fake.url}/oauth/authorize", data=form, timeout=10)
    assert answer.status_code == 200, answer.text


def _login_argv(fake: FakeTickTick, tmp_path: Path, redirect: str) -> list[str]:
    return [
        *("login", "--host", fake.url, "--client-id", fake.client_id),
        *("--redirect-uri", redirect, "--cache-path", str(tmp_path / "tok")),
        *("--no-browser", "--timeout", "30"),
    ]


def _terminal_env(fake: FakeTickTick) -> dict[str, str]:
    env = clean_env(TICKTICK_CLIENT_SECRET=fake.client_secret, TERM="xterm")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        env.pop(name, None)
    return env


@pytest.mark.timeout(90)
def test_the_browser_wait_counts_down_above_the_paste_prompt(tmp_path: Path) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "ticktick", *_login_argv(fake, tmp_path, redirect)],
            env=_terminal_env(fake),
            cwd=str(tmp_path),
            timeout=20,
            encoding="utf-8",
            dimensions=(24, 300),  # room for the whole line (a narrower one is cut)
        )
        child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        assert isinstance(child.match, re.Match)
        url = child.match[1]
        what = re.escape(f"Waiting for the browser to return to {redirect}")
        child.expect(rf"\n{what} \S {LEFT}\r?\n")
        assert isinstance(child.match, re.Match)
        first = _seconds(child.match)
        child.expect_exact("Redirected URL (or code): ")
        # Redrawn in place: cursor saved, one line up, the line, erased to its end, restored.
        child.expect(rf"\x1b7\x1b\[1A\r{what} \S {LEFT}\x1b\[K\x1b8")
        assert isinstance(child.match, re.Match)
        later = _seconds(child.match)
        assert 0 < later < first <= 30
        _allow(fake, url)
        child.expect_exact("Received the redirect from the browser.")
        child.expect_exact("Do you want to print the token and its expiration? [Y/n]: ")
        child.sendline("n")
        child.expect_exact("(empty to skip): ")
        child.sendline("")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "tok").exists()


@pytest.mark.timeout(90)
def test_with_nothing_to_paste_the_countdown_is_one_line_then_cleared(tmp_path: Path) -> None:
    """Standard input is not a terminal (nothing can be pasted), standard error is."""
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        login = _login_argv(fake, tmp_path, redirect)
        child = pexpect.spawn(
            "/bin/sh",
            ["-c", 'exec "$@" < /dev/null', "sh", sys.executable, "-m", "ticktick", *login],
            env=_terminal_env(fake),
            cwd=str(tmp_path),
            timeout=20,
            encoding="utf-8",
            dimensions=(24, 300),  # room for the whole line (a narrower one is cut)
        )
        child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        assert isinstance(child.match, re.Match)
        url = child.match[1]
        what = re.escape(f"Waiting for the browser to return to {redirect}")
        times = []
        for _ in range(2):
            child.expect(rf"\r{what} \S {LEFT}\x1b\[K")
            assert isinstance(child.match, re.Match)
            times.append(_seconds(child.match))
        assert times[1] < times[0] <= 30
        _allow(fake, url)
        child.expect_exact("\r\x1b[K")  # the line cleared when the wait ends
        child.expect(pexpect.EOF)
        shown = child.before or ""
        child.close()
    assert child.exitstatus == 0, shown
    assert "Signed on" in shown
    assert "come back to" not in shown  # the countdown said it


@pytest.mark.timeout(60)
def test_a_lock_held_by_another_process_shows_the_waiting_line_in_place(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "tok"
    write_cache(cache, token_dict())
    release, holder = hold_in_a_thread(FileLock(str(cache) + ".lock"))
    try:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "ticktick", "logout", "--cache-path", str(cache)],
            env=clean_env(TERM="xterm"),
            cwd=str(tmp_path),
            timeout=20,
            encoding="utf-8",
            dimensions=(24, 300),  # room for the whole line (a narrower one is cut)
        )
        waiting = re.escape(f"which holds the lock {cache}.lock (it may be signing on)")
        times = []
        for _ in range(2):
            child.expect(rf"\rWaiting for (process \d+|another process), {waiting} \S {LEFT}")
            assert isinstance(child.match, re.Match)
            times.append(_seconds(child.match))
        assert times[1] < times[0] <= 10
    finally:
        release.set()
        holder.join()
    child.expect_exact("\r\x1b[K")
    child.expect_exact("Removed the cached token")
    child.expect(pexpect.EOF)
    shown = child.before or ""
    child.close()
    assert child.exitstatus == 0, shown
    assert "Waiting up to" not in shown  # the line said it, not a second plain line
    assert not cache.exists()


@pytest.mark.timeout(60)
def test_with_stderr_a_pipe_a_lock_wait_prints_a_plain_line(tmp_path: Path) -> None:
    cache = tmp_path / "tok"
    write_cache(cache, token_dict())
    release, holder = hold_in_a_thread(FileLock(str(cache) + ".lock"))
    timer = threading.Timer(2.5, release.set)
    timer.start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ticktick", "logout", "--cache-path", str(cache)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=clean_env(TERM="xterm"),
            cwd=tmp_path,
            timeout=30,
            check=False,
        )
    finally:
        timer.join()
        holder.join()
    assert result.returncode == 0, result.stderr
    assert "Waiting up to 10 s for process" in result.stderr
    assert "\r" not in result.stderr + result.stdout
    assert "\x1b" not in result.stderr


@pytest.mark.timeout(90)
def test_with_stderr_a_pipe_the_browser_wait_is_a_plain_line(tmp_path: Path) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        process = start_cli(*_login_argv(fake, tmp_path, redirect), env=_terminal_env(fake))
        assert process.stderr is not None
        lines = []
        for line in process.stderr:
            lines.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)", line)
            if found:
                break
        assert found is not None, lines
        _allow(fake, found[1])
        rest = finish_cli(process)[1]
    shown = "".join(lines) + rest
    assert process.returncode == 0, shown
    assert f"Waiting for the browser to come back to {redirect} ..." in shown
    assert "\r" not in shown
    assert "left (Ctrl-C to stop)" not in shown
