"""The terminal sign-on and redirect parsing."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator

import pytest
import requests

from ticktick import (
    AccessDenied,
    AuthorizationRequest,
    AuthorizationTimeout,
    OAuthError,
    ReauthorizationRequired,
    RedirectParseError,
    StateMismatch,
    TerminalSignOn,
    parse_redirect,
)
from ticktick.signon import _read_terminal_line, no_terminal_reason
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
        "http://127.0.0.1:8080/?code=jAyEtF",  # no state in the URL: nothing to compare
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

    def __call__(self, prompt: str, timeout: float) -> str:
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


def test_terminal_signon_prints_url_opens_browser_reads_paste(opened: list[str]) -> None:
    out = io.StringIO()
    terminal = Terminal(f"http://127.0.0.1:8080/?code=abc123&state={STATE}")
    code = TerminalSignOn(read_line=terminal, output=out)(REQUEST)
    assert code == "abc123"
    assert REQUEST.url in out.getvalue()
    assert opened == [REQUEST.url]


def test_terminal_signon_asks_again_then_gives_up(opened: list[str]) -> None:
    out = io.StringIO()
    terminal = Terminal("", "http://127.0.0.1:8080/?nothing=here", "still wrong!")
    with pytest.raises(RedirectParseError, match="Gave up after 3"):
        TerminalSignOn(read_line=terminal, output=out)(REQUEST)
    assert len(terminal.prompts) == 3
    assert "Try again (2 left)" in out.getvalue()
    assert "Try again (1 left)" in out.getvalue()


def test_terminal_signon_recovers_after_a_bad_paste(opened: list[str]) -> None:
    terminal = Terminal("oops!", "abc123")
    assert TerminalSignOn(read_line=terminal, output=io.StringIO())(REQUEST) == "abc123"


def test_terminal_signon_without_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(url: str) -> bool:
        raise RuntimeError("no display")

    monkeypatch.setattr("webbrowser.open", broken)
    out = io.StringIO()
    TerminalSignOn(read_line=Terminal("abc123"), output=out)(REQUEST)
    assert "No browser could be opened" in out.getvalue()
    out = io.StringIO()
    TerminalSignOn(open_browser=False, read_line=Terminal("abc123"), output=out)(REQUEST)
    assert "No browser" not in out.getvalue()


def test_terminal_signon_deadline(opened: list[str]) -> None:
    expired = AuthorizationRequest(REQUEST.url, STATE, REQUEST.redirect_uri, timeout=0)
    with pytest.raises(AuthorizationTimeout, match="within 0 s"):
        TerminalSignOn(read_line=Terminal("abc123"), output=io.StringIO())(expired)


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


def test_read_terminal_line_from_a_real_pty(
    pty_stdin: int, capsys: pytest.CaptureFixture[str]
) -> None:
    os.write(pty_stdin, b"abc123\n")
    assert _read_terminal_line("Paste: ", 5).strip() == "abc123"
    assert "Paste: " in capsys.readouterr().err
    assert no_terminal_reason() is None


def test_read_terminal_line_times_out(pty_stdin: int) -> None:
    with pytest.raises(AuthorizationTimeout, match=r"No answer within 0\.2 s"):
        _read_terminal_line("Paste: ", 0.2)


def test_terminal_signon_end_to_end_over_a_pty(
    pty_stdin: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeTickTick(auto_approve=True) as fake:
        oauth = fake.oauth2(cache_path=None, authorizer=None, resolve=False)
        assert oauth._no_prompt_reason() is None  # a terminal, no CI: it may prompt

        def browser(url: str) -> bool:
            """The person's browser: follows the authorize URL, the person pastes the redirect."""
            answer = requests.get(url, allow_redirects=False, timeout=5)
            os.write(pty_stdin, answer.headers["Location"].encode() + b"\n")
            return True

        monkeypatch.setattr("webbrowser.open", browser)
        assert oauth.get_access_token() in fake.issued
        assert "open this URL in a browser" in capsys.readouterr().err


def test_read_terminal_line_eof(monkeypatch: pytest.MonkeyPatch) -> None:
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with os.fdopen(read_fd) as closed:
        monkeypatch.setattr(sys, "stdin", closed)
        with pytest.raises(ReauthorizationRequired, match="Standard input closed"):
            _read_terminal_line("Paste: ", 1)


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
