"""The terminal sign-on and redirect parsing."""

from __future__ import annotations

import getpass
import io
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from helpers import assert_port_free, free_port

from ticktick import (
    AccessDenied,
    AuthorizationRequest,
    AuthorizationTimeout,
    OAuthError,
    ReauthorizationRequired,
    RedirectParseError,
    SignOn,
    StateMismatch,
    parse_redirect,
)
from ticktick.signon.terminal import headless_reason, no_terminal_reason, read_terminal_line
from ticktick.testing import FakeTickTick

STATE = "s3cr3t-state-value"
REQUEST = AuthorizationRequest(
    url="https://ticktick.com/oauth/authorize?client_id=x&state=" + STATE,
    state=STATE,
    redirect_uri="http://127.0.0.1:8080/",
    timeout=30,
)


@pytest.mark.parametrize(
    "text",
    [
        f"http://127.0.0.1:8080/?code=jAyEtF&state={STATE}",
        f"  'http://127.0.0.1:8080/?state={STATE}&code=jAyEtF'\n",
        f"?code=jAyEtF&state={STATE}",
        f"code=jAyEtF&state={STATE}",
        f"http://127.0.0.1:8080/#code=jAyEtF&state={STATE}",
        "jAyEtF",
    ],
)
def test_parse_redirect_accepts_urls_and_bare_codes(text: str) -> None:
    assert parse_redirect(text, STATE) == "jAyEtF"


def test_parse_redirect_state_mismatch() -> None:
    with pytest.raises(StateMismatch, match="does not match"):
        parse_redirect("http://127.0.0.1:8080/?code=jAyEtF&state=None", STATE)


def test_parse_redirect_access_denied() -> None:
    with pytest.raises(AccessDenied) as caught:
        parse_redirect(f"http://127.0.0.1:8080/?error=access_denied&state={STATE}", STATE)
    assert caught.value.status is None
    assert "click Allow" in str(caught.value)


def test_parse_redirect_other_error() -> None:
    with pytest.raises(OAuthError, match="invalid_scope"):
        parse_redirect("http://127.0.0.1:8080/?error=invalid_scope&error_description=bad", None)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "Nothing was entered"),
        ("http://127.0.0.1:8080/?state=" + STATE, "has no 'code'"),
        ("not a code!", "neither a URL nor a code"),
        ("ab", "neither a URL nor a code"),
    ],
)
def test_parse_redirect_unreadable(text: str, match: str) -> None:
    with pytest.raises(RedirectParseError, match=match):
        parse_redirect(text, STATE)


class Terminal:
    """Stands in for the person at the terminal: answers prompts from a script."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str, timeout: float, cancelled: Callable[[], bool]) -> str | None:
        assert timeout > 0
        self.prompts.append(prompt)
        return self.answers.pop(0)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    urls: list[str] = []

    def fake_open(url: str) -> bool:
        urls.append(url)
        return True

    monkeypatch.setattr("webbrowser.open", fake_open)
    return urls


PASTE_ONLY = AuthorizationRequest(
    url=REQUEST.url, state=STATE, redirect_uri="https://example.org/callback", timeout=30
)


def loopback_request(port: int, timeout: float = 10) -> AuthorizationRequest:
    return AuthorizationRequest(REQUEST.url, STATE, f"http://127.0.0.1:{port}/cb", timeout)


def visit_later(url: str, delay: float = 0.3) -> threading.Thread:
    """The person's browser arriving at the redirect URI a moment later."""

    def visit() -> None:
        time.sleep(delay)
        requests.get(url, timeout=5)

    thread = threading.Thread(target=visit, daemon=True)
    thread.start()
    return thread


def test_signon_prints_url_opens_browser_reads_paste(opened: list[str]) -> None:
    out = io.StringIO()
    terminal = Terminal(f"https://example.org/callback?code=abc123&state={STATE}")
    code = SignOn(open_browser=True, paste=True, read_line=terminal, output=out)(PASTE_ONLY)
    assert code == "abc123"
    assert PASTE_ONLY.url in out.getvalue()
    assert opened == [PASTE_ONLY.url]


def test_signon_asks_again_then_gives_up(opened: list[str]) -> None:
    out = io.StringIO()
    terminal = Terminal("", "https://example.org/callback?nothing=here", "still wrong!")
    with pytest.raises(RedirectParseError, match="Gave up after 3"):
        SignOn(paste=True, read_line=terminal, output=out)(PASTE_ONLY)
    assert len(terminal.prompts) == 3
    assert "Try again (2 left)" in out.getvalue()
    assert "Try again (1 left)" in out.getvalue()


def test_signon_recovers_after_a_bad_paste(opened: list[str]) -> None:
    terminal = Terminal("oops!", "abc123")
    assert SignOn(paste=True, read_line=terminal, output=io.StringIO())(PASTE_ONLY) == "abc123"


def test_signon_paste_with_wrong_state_and_access_denied(opened: list[str]) -> None:
    wrong = Terminal(*["https://example.org/callback?code=abc123&state=other"] * 3)
    with pytest.raises(StateMismatch, match="Gave up after 3"):
        SignOn(paste=True, read_line=wrong, output=io.StringIO())(PASTE_ONLY)
    denied = Terminal(f"https://example.org/callback?error=access_denied&state={STATE}")
    with pytest.raises(AccessDenied):
        SignOn(paste=True, read_line=denied, output=io.StringIO())(PASTE_ONLY)


def test_signon_when_the_browser_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(url: str) -> bool:
        raise RuntimeError("no display")

    monkeypatch.setattr("webbrowser.open", broken)
    out = io.StringIO()
    SignOn(open_browser=True, paste=True, read_line=Terminal("abc123"), output=out)(PASTE_ONLY)
    assert "No browser could be opened" in out.getvalue()


def test_signon_on_this_headless_machine_does_not_try_a_browser(opened: list[str]) -> None:
    reason = headless_reason()
    assert reason is not None  # CI machines have no display
    out = io.StringIO()
    SignOn(paste=True, read_line=Terminal("abc123"), output=out)(PASTE_ONLY)
    assert opened == []
    assert f"Not opening a browser here: {reason}" in out.getvalue()
    assert PASTE_ONLY.url in out.getvalue()


def test_signon_asks_before_opening(opened: list[str]) -> None:
    terminal = Terminal("n", "abc123")
    SignOn(
        open_browser=True, ask_to_open=True, paste=True, read_line=terminal, output=io.StringIO()
    )(PASTE_ONLY)
    assert opened == []
    assert terminal.prompts[0] == "Open the browser to sign on? [Y/n]: "
    SignOn(
        open_browser=True,
        ask_to_open=True,
        paste=True,
        read_line=Terminal("", "abc123"),
        output=io.StringIO(),
    )(PASTE_ONLY)
    assert opened == [PASTE_ONLY.url]


def test_signon_deadline(opened: list[str]) -> None:
    expired = AuthorizationRequest(REQUEST.url, STATE, PASTE_ONLY.redirect_uri, timeout=0)
    with pytest.raises(AuthorizationTimeout, match="within 0 s"):
        SignOn(paste=True, read_line=Terminal("abc123"), output=io.StringIO())(expired)


def test_signon_without_capture_or_terminal_refuses() -> None:
    with pytest.raises(ReauthorizationRequired, match="no terminal to paste it into") as caught:
        SignOn(paste=False, output=io.StringIO())(PASTE_ONLY)
    assert "is not on this machine" in str(caught.value)


@pytest.mark.parametrize(
    ("redirect_uri", "capture", "reason"),
    [
        (
            "http://127.0.0.1:8080/",
            False,
            "Capturing the redirect to http://127.0.0.1:8080/ is turned off (capture=False)",
        ),
        ("https://127.0.0.1:8080/", True, "is https on this machine, which cannot be captured"),
    ],
)
def test_a_loopback_redirect_that_can_only_be_pasted_says_the_real_reason(
    redirect_uri: str, capture: bool, reason: str
) -> None:
    """Not "is not a loopback address": the reason is capture=False, or https."""
    request = AuthorizationRequest(REQUEST.url, STATE, redirect_uri, timeout=30)
    with pytest.raises(ReauthorizationRequired, match="no terminal to paste it into") as caught:
        SignOn(capture=capture, paste=False, output=io.StringIO())(request)
    assert reason in str(caught.value)
    assert "not a loopback address" not in str(caught.value)


def test_signon_captures_a_loopback_redirect(opened: list[str]) -> None:
    port = free_port()
    request = loopback_request(port)
    visit_later(f"http://127.0.0.1:{port}/cb?code=captured1&state={STATE}")
    out = io.StringIO()
    assert SignOn(paste=False, output=out)(request) == "captured1"
    assert f"Waiting for the browser to come back to http://127.0.0.1:{port}/cb" in out.getvalue()
    assert_port_free(port)


def test_signon_loopback_access_denied(opened: list[str]) -> None:
    port = free_port()
    visit_later(f"http://127.0.0.1:{port}/cb?error=access_denied&state={STATE}")
    with pytest.raises(AccessDenied):
        SignOn(paste=False, output=io.StringIO())(loopback_request(port))


def test_signon_loopback_timeout(opened: list[str]) -> None:
    port = free_port()
    with pytest.raises(AuthorizationTimeout, match=f"http://127.0.0.1:{port}/cb"):
        SignOn(paste=False, output=io.StringIO())(loopback_request(port, timeout=0.3))
    with pytest.raises(AuthorizationTimeout):
        SignOn(paste=True, read_line=Terminal(), output=io.StringIO())(
            loopback_request(port, timeout=0)
        )


def test_ssh_session_gets_the_port_forwarding_hint(
    monkeypatch: pytest.MonkeyPatch, opened: list[str]
) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
    port = free_port()
    out = io.StringIO()
    code = SignOn(paste=True, read_line=Terminal("pasted1"), output=out)(loopback_request(port))
    assert code == "pasted1"
    text = out.getvalue()
    expected = f"ssh -L {port}:127.0.0.1:{port} {getpass.getuser()}@{socket.gethostname()}"
    assert expected in text
    assert "Not opening a browser here: this is an SSH session" in text
    assert opened == []


@pytest.mark.parametrize(
    ("environ", "markers", "platform", "reason"),
    [
        ({"SSH_TTY": "/dev/pts/1", "DISPLAY": ":0"}, (), "linux", "SSH session"),
        ({"container": "podman", "DISPLAY": ":0"}, (), "linux", "container"),
        ({"DISPLAY": ":0"}, ("/",), "linux", "container"),
        ({}, (), "linux", "no graphical display"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, (), "linux", None),
        ({"DISPLAY": ":0"}, (), "linux", None),
        ({}, (), "darwin", None),
        ({}, (), "win32", None),
        ({"BROWSER": "host-open", "SSH_TTY": "/dev/pts/1"}, ("/",), "linux", None),
    ],
)
def test_headless_reason(
    environ: dict[str, str], markers: tuple[str, ...], platform: str, reason: str | None
) -> None:
    found = headless_reason(environ, markers=markers, platform=platform)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


def test_authorization_request_repr_hides_state() -> None:
    assert STATE not in repr(REQUEST)


@pytest.fixture
def pty_stdin(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Make standard input a real pseudo-terminal; yield the fd the 'person' types into."""
    primary, secondary = os.openpty()
    stdin = os.fdopen(secondary, "r")
    monkeypatch.setattr(sys, "stdin", stdin)
    try:
        yield primary
    finally:
        stdin.close()
        os.close(primary)


def never() -> bool:
    return False


def test_read_terminal_line_from_a_real_pty(
    pty_stdin: int, capsys: pytest.CaptureFixture[str]
) -> None:
    os.write(pty_stdin, b"abc123\n")
    assert (read_terminal_line("Paste: ", 5, never) or "").strip() == "abc123"
    assert "Paste: " in capsys.readouterr().err
    assert no_terminal_reason() is None


def test_read_terminal_line_times_out(pty_stdin: int) -> None:
    with pytest.raises(AuthorizationTimeout, match=r"No answer within 0\.2 s"):
        read_terminal_line("Paste: ", 0.2, never)


def test_read_terminal_line_is_cancelled(pty_stdin: int) -> None:
    assert read_terminal_line("Paste: ", 5, lambda: True) is None


def test_loopback_capture_ends_the_paste_prompt(pty_stdin: int, opened: list[str]) -> None:
    """With a terminal and a loopback redirect, whichever comes first wins: here the browser."""
    port = free_port()
    visit_later(f"http://127.0.0.1:{port}/cb?code=viabrowser&state={STATE}")
    out = io.StringIO()
    assert SignOn(paste=True, output=out)(loopback_request(port)) == "viabrowser"
    assert "Received the redirect from the browser." in out.getvalue()


def test_terminal_signon_end_to_end_over_a_pty(
    pty_stdin: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeTickTick(auto_approve=True, redirect_uris=["https://example.org/callback"]) as fake:
        oauth = fake.oauth2(cache_path=None, authorizer=None, resolve=False)
        assert oauth._no_prompt_reason() is None  # a terminal, no CI: it may prompt

        def person_pastes() -> None:
            """The person opens the printed URL elsewhere and pastes where it led."""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                text = capsys.readouterr().err
                for line in text.splitlines():
                    if line.strip().startswith(fake.url):
                        answer = requests.get(line.strip(), allow_redirects=False, timeout=5)
                        os.write(pty_stdin, answer.headers["Location"].encode() + b"\n")
                        return
                time.sleep(0.05)

        threading.Thread(target=person_pastes, daemon=True).start()
        assert oauth.get_access_token() in fake.issued


def test_read_terminal_line_eof(monkeypatch: pytest.MonkeyPatch) -> None:
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with os.fdopen(read_fd) as closed:
        monkeypatch.setattr(sys, "stdin", closed)
        with pytest.raises(ReauthorizationRequired, match="Standard input closed"):
            read_terminal_line("Paste: ", 1, never)


def test_no_terminal_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert no_terminal_reason() == "standard input is not a terminal"
    monkeypatch.setattr(sys, "stdin", None)
    assert no_terminal_reason() == "standard input is not a terminal"
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    assert no_terminal_reason() == "standard input is not a terminal"
    for value in ("true", "1", "yes"):
        monkeypatch.setenv("CI", value)
        assert no_terminal_reason() == "the CI environment variable is set"
    monkeypatch.setenv("CI", "false")
    assert no_terminal_reason() == "standard input is not a terminal"
