"""The redirect-URI mistake: the pre-check line, the hint while waiting, a pasted mismatch.

TickTick's page says "Invalid redirect: X does not match one of the registered values:
[Y]" when the redirect URI sent is not the registered one; the person is told which
one to use, in ``ticktick-auth``'s flags or in the library's arguments.
"""

from __future__ import annotations

import html
import io
import re
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, urlsplit

import pexpect
import pytest
import requests
from helpers import clean_env, free_port, spawn_cli

from ticktick import (
    AuthorizationRequest,
    AuthorizationTimeout,
    InvalidGrant,
    RedirectParseError,
    RedirectUriMismatch,
    SignOn,
    parse_redirect,
)
from ticktick.cli.login import redirect_plan
from ticktick.endpoints import MAX_REGISTERED, find_redirect_mismatch, redirect_uri_advice
from ticktick.errors import ConfigurationError, speak_in_flags
from ticktick.signon.redirect import MAX_PASTE
from ticktick.testing import FakeTickTick

STATE = "the-state-sent"
SENT = "http://127.0.0.1:9000/"
REGISTERED = "http://127.0.0.1:8080/"
LINE = f"Invalid redirect: {SENT} does not match one of the registered values: [{REGISTERED}]"


def _page_error(fake: FakeTickTick, url: str) -> str:
    """The error line of the fake's authorization page for *url*, as a browser shows it."""
    page = requests.get(url, timeout=5).text
    match = re.search(r'<p class="error">(.*?)</p>', page)
    assert match is not None, page
    return html.unescape(match[1])


# -- the parser -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        LINE,  # the page's line, Java's list
        f"  {LINE}\n",
        LINE.replace(f"[{REGISTERED}]", f"['{REGISTERED}']"),  # a Python list, as the fake
        LINE.lower(),
        # TickTick's "OAuth Error" page, as people paste it into issue trackers
        f'OAuth Error\nerror="invalid_grant", error_description="{LINE}"',
        # the token endpoint's answer
        f'{{"error": "invalid_grant", "error_description": "{LINE}"}}',
        # HTML-escaped (a page's source)
        html.escape(LINE.replace(f"[{REGISTERED}]", f"['{REGISTERED}']")),
        # inside a redirect's error_description, percent-encoded
        f"{SENT}?error=invalid_grant&error_description={quote_plus(LINE)}&state={STATE}",
    ],
    ids=["line", "blanks", "python-list", "lower", "page", "json", "html", "url"],
)
def test_a_pasted_mismatch_names_the_registered_uri(text: str) -> None:
    with pytest.raises(RedirectUriMismatch) as caught:
        parse_redirect(text, STATE)
    error = caught.value
    assert isinstance(error, RedirectParseError)  # a paste that holds no code
    assert error.sent == SENT
    assert error.registered == (REGISTERED,)
    assert f"redirect_uri='{REGISTERED}'" in str(error)
    assert "trailing slash" in str(error)
    assert "no 'code'" not in str(error)


def test_ipv6_uris_keep_their_brackets() -> None:
    sent, registered = "http://[::1]:9000/", "http://[::1]:8080/"
    error = find_redirect_mismatch(LINE.replace(SENT, sent).replace(REGISTERED, registered))
    assert error is not None
    assert (error.sent, error.registered) == (sent, (registered,))


def test_several_registered_uris_are_each_offered_once() -> None:
    other = "https://example.org/cb?x=1&y=2"
    text = LINE.replace(f"[{REGISTERED}]", f"[{REGISTERED}, {other}, {REGISTERED}]")
    error = find_redirect_mismatch(text)
    assert error is not None
    assert error.registered == (REGISTERED, other)
    assert f"redirect_uri='{REGISTERED}', redirect_uri='{other}'" in str(error)


@pytest.mark.parametrize(
    "registered",
    [
        "myapp://callback",  # not http(s)
        "http://127.0.0.1:8080/\x1b(0red",  # an escape sequence
        "http://127.0.0.1:8080/\x07\x1b]0;title",  # another, and a bracket
        "http://127.0.0.1:8080/\u202eevil",  # a bidi override
        "http://a b/",  # a space
        "http://127.0.0.1:8080/'; rm -rf ~; '",  # quotes for a shell
        "http://user:pass@127.0.0.1:8080/",  # a password would show
        "http://127.0.0.1:99999/",  # no such port
        "http://" + "a" * 3000 + "/",  # too long
        "http://bücher.example/",  # not ASCII
    ],
)
def test_registered_values_that_are_no_usable_url_are_never_echoed(registered: str) -> None:
    text = LINE.replace(f"[{REGISTERED}]", f"[{registered}]")
    with pytest.raises(RedirectUriMismatch) as caught:
        parse_redirect(text, STATE)
    error = caught.value
    assert error.registered == ()
    message = str(error)
    assert message.isprintable()
    assert registered not in message
    assert "pass" not in message
    assert "redirect_uri='http://127.0.0.1:8080/'" in message  # an example to register


def test_the_advice_never_shows_a_value_that_is_no_usable_url() -> None:
    speaking = speak_in_flags({"redirect_uri": "--redirect-uri"})
    try:
        advice = redirect_uri_advice("http://x/\x1b[2J", ("javascript:x", "http://a b/"))
    finally:
        speak_in_flags(speaking)
    assert advice.isprintable()
    assert "javascript" not in advice
    assert "a b" not in advice
    assert "--redirect-uri http://127.0.0.1:8080/" in advice  # an example to register


def test_a_sent_uri_that_is_no_usable_url_is_not_echoed() -> None:
    error = find_redirect_mismatch(LINE.replace(SENT, "http://x/\x07\x1b]0;t"))
    assert error is not None
    assert error.sent == ""
    assert error.registered == (REGISTERED,)
    assert "\x1b" not in str(error)


def test_a_long_list_is_cut_and_a_long_paste_refused() -> None:
    many = ", ".join(f"http://127.0.0.1:{8000 + n}/" for n in range(100))
    error = find_redirect_mismatch(LINE.replace(f"[{REGISTERED}]", f"[{many}]"))
    assert error is not None
    assert len(error.registered) == MAX_REGISTERED
    with pytest.raises(RedirectParseError, match="characters long") as caught:
        parse_redirect(LINE + " " * MAX_PASTE, STATE)
    assert not isinstance(caught.value, RedirectUriMismatch)


def test_a_huge_adversarial_paste_is_read_quickly() -> None:
    """A bounded text, and a pattern with no nested repetition: it ends (not a timing claim)."""
    nasty = "Invalid redirect: " + "x" * 50 + " does not match one of the registered values: ["
    assert find_redirect_mismatch(nasty * (MAX_PASTE // len(nasty))) is None
    assert find_redirect_mismatch("[" * MAX_PASTE + "%" * 10) is None


def test_blanks_after_the_colon_are_read_in_linear_time() -> None:
    """A run of blanks where the sent URI would be: each blank is tried once, not once per
    way to split the run (16 K blanks took about a second before)."""
    for tail in ("", " does not match one of the registered values"):
        text = "invalid redirect:" + " " * (MAX_PASTE - 60) + tail
        started = time.perf_counter()
        assert find_redirect_mismatch(text) is None
        assert time.perf_counter() - started < 0.3  # well under the old 0.7-1 s


def test_a_registered_uri_with_a_comma_is_kept_whole() -> None:
    """Java's list is '[a, b]': a comma without a blank is part of a URI (legal in a path)."""
    registered = "http://127.0.0.1:8080/cb,tick"
    error = find_redirect_mismatch(LINE.replace(REGISTERED, registered))
    assert error is not None
    assert error.registered == (registered,)
    assert f"redirect_uri='{registered}'" in str(error)


def test_the_advice_never_holds_a_code_or_state_pasted_into_the_sent_uri() -> None:
    sent = f"{SENT}?keep=1&code=SeCrEtCoDe42&state={STATE}"
    error = find_redirect_mismatch(LINE.replace(SENT, sent).replace(REGISTERED, SENT + "x"))
    assert error is not None
    assert error.sent == f"{SENT}?keep=1"
    assert "SeCrEtCoDe42" not in str(error)
    assert STATE not in str(error)


@pytest.mark.parametrize("listed", [f"[{SENT} ]", f"[' {SENT}']", f"[{REGISTERED},  {SENT}]"])
def test_a_registered_value_with_a_blank_is_named_as_the_fault_not_as_the_fix(
    listed: str,
) -> None:
    """'[URI ]': the value registered has a blank typed with it. Advising the URI just refused
    would loop; the advice says to remove the blank in the developer portal."""
    error = find_redirect_mismatch(LINE.replace(f"[{REGISTERED}]", listed))
    assert error is not None
    assert SENT not in error.registered
    message = str(error)
    assert f"redirect_uri='{SENT}'" not in message
    assert "blank" in message
    assert "developer.ticktick.com/manage" in message


def test_the_authorization_pages_own_address_is_explained() -> None:
    url = (
        "https://ticktick.com/oauth/authorize?client_id=cid&scope=tasks%3Aread"
        f"&state={STATE}&redirect_uri={quote_plus(SENT)}&response_type=code"
    )
    with pytest.raises(RedirectParseError, match="authorization page itself") as caught:
        parse_redirect(url, STATE)
    assert SENT in str(caught.value)
    assert "no 'code'" not in str(caught.value)


def test_redirect_plan_checks_and_says_what_listens() -> None:
    port = free_port()
    plan = redirect_plan(f"http://127.0.0.1:{port}/cb")
    assert plan is not None
    assert plan.endswith(f"listening on 127.0.0.1:{port} for the path /cb.")
    v6 = free_port(socket.AF_INET6, "::1")
    assert f"listening on [::1]:{v6} for the path /." in str(redirect_plan(f"http://[::1]:{v6}"))
    assert "--no-capture" in str(redirect_plan("http://127.0.0.1:8080/", capture=False))
    both = free_port()  # a browser may take localhost to either loopback
    for name in ("localhost", "localhost."):
        plan = str(redirect_plan(f"http://{name}:{both}/"))
        assert f"listening on 127.0.0.1:{both} and [::1]:{both} for the path /." in plan, plan
    assert "listening on 127.0.0.1" in str(redirect_plan(f"http://127.0.0.1.:{both}/"))
    assert "cannot be captured" in str(redirect_plan("https://127.0.0.1:8080/"))
    assert "not on this machine" in str(redirect_plan("https://example.org/cb"))
    with socket.socket() as squatter:  # a taken port: the sign-on's own error says it
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        assert redirect_plan(f"http://127.0.0.1:{squatter.getsockname()[1]}/") is None
    for bad in ("ftp://127.0.0.1/", "http://127.0.0.1:0/", "http://127.0.0.1:8080/ x"):
        with pytest.raises(ConfigurationError):
            redirect_plan(bad)


# -- the hint while waiting ------------------------------------------------------------------


def _sign_on_in_thread(
    fake: FakeTickTick, signon: SignOn, redirect: str
) -> tuple[threading.Thread, list[object]]:
    """An `OAuth2` of *fake* signing on with *signon* in a thread; its outcome, once done."""
    outcome: list[object] = []

    def run() -> None:
        try:  # OAuth2() itself signs on
            oauth = fake.oauth2(redirect_uri=redirect, authorizer=signon, cache_path=None)
            outcome.append(oauth.access_token_info)
        except Exception as exc:  # reported by the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _wait_for(output: io.StringIO, text: str, seconds: float = 20) -> str:
    end = time.monotonic() + seconds
    while text not in output.getvalue():
        assert time.monotonic() < end, output.getvalue()
        time.sleep(0.05)
    return output.getvalue()


def test_the_hint_is_shown_once_after_the_delay_while_capturing() -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    output = io.StringIO()
    signon = SignOn(open_browser=False, paste=False, output=output, mismatch_hint_after=0.3)
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        thread, outcome = _sign_on_in_thread(fake, signon, redirect)
        shown = _wait_for(output, "Still no redirect after 0.3 s")
        url = re.search(r"(http://\S+/oauth/authorize\?\S+)", shown)
        assert url is not None
        form = {**dict(parse_qsl(urlsplit(url[1]).query)), "decision": "allow"}
        answer = requests.post(
            f"{fake.url}/oauth/authorize", data=form, allow_redirects=False, timeout=5
        )
        requests.get(answer.headers["Location"], timeout=5)  # the browser comes back
        thread.join(20)
    assert isinstance(outcome[0], dict), outcome
    text = output.getvalue()
    assert text.count("Still no redirect") == 1
    assert f"Invalid redirect: {redirect} does not match" in text
    assert "redirect_uri= exactly as registered" in text
    assert "trailing slash" in text
    assert "--redirect-uri" not in text  # the library speaks in arguments


def test_no_hint_when_the_redirect_comes_first() -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    output = io.StringIO()
    signon = SignOn(open_browser=False, paste=False, output=output)  # the default 20 s
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        thread, outcome = _sign_on_in_thread(fake, signon, redirect)
        shown = _wait_for(output, "Waiting for the browser")
        url = re.search(r"(http://\S+/oauth/authorize\?\S+)", shown)
        assert url is not None
        form = {**dict(parse_qsl(urlsplit(url[1]).query)), "decision": "allow"}
        answer = requests.post(
            f"{fake.url}/oauth/authorize", data=form, allow_redirects=False, timeout=5
        )
        requests.get(answer.headers["Location"], timeout=5)
        thread.join(20)
    assert isinstance(outcome[0], dict), outcome
    assert "Still no redirect" not in output.getvalue()


def test_the_hint_is_shown_at_the_end_of_a_short_wait_too() -> None:
    """A wait that times out shows the hint before its timeout error (capture only)."""
    redirect = f"http://127.0.0.1:{free_port()}/"
    output = io.StringIO()
    signon = SignOn(open_browser=False, paste=False, output=output, mismatch_hint_after=0.2)
    request = AuthorizationRequest(
        url="https://ticktick.com/oauth/authorize?x=1",
        state=STATE,
        redirect_uri=redirect,
        timeout=1.0,
    )
    with pytest.raises(AuthorizationTimeout):
        signon(request)
    assert output.getvalue().count("Still no redirect after 0.2 s") == 1


_PASTE_SCRIPT = """
import sys
from ticktick import AuthorizationRequest, SignOn, TickTickError
from ticktick.errors import speak_in_flags
if sys.argv[2] == "cli":
    speak_in_flags({"redirect_uri": "--redirect-uri"})  # as ticktick-auth does
request = AuthorizationRequest(
    url="https://ticktick.com/oauth/authorize?x=1", state="s", redirect_uri=sys.argv[1],
    timeout=30,
)
try:
    SignOn(
        open_browser=False, capture=False, paste=True, mismatch_hint_after=0.5
    )(request)
except TickTickError as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("speaker", "option", "suggestion"),
    [
        ("library", "redirect_uri= exactly as registered", f"redirect_uri='{REGISTERED}'"),
        ("cli", "--redirect-uri exactly as registered", f"--redirect-uri {REGISTERED}"),
    ],
)
def test_the_hint_at_the_paste_prompt_in_a_terminal_then_the_pasted_line(
    tmp_path: Path, speaker: str, option: str, suggestion: str
) -> None:
    """In a real pseudo-terminal: the prompt, the hint after the delay, the prompt again."""
    child = pexpect.spawn(
        sys.executable,
        ["-c", _PASTE_SCRIPT, SENT, speaker],
        env=clean_env(),
        cwd=str(tmp_path),
        timeout=20,
        encoding="utf-8",
    )
    transcript = io.StringIO()
    child.logfile_read = transcript
    child.expect_exact("Redirected URL (or code): ")
    child.expect_exact("Still no redirect after 0.5 s.")
    child.expect_exact(f"'Invalid redirect: {SENT} does not match")
    child.expect_exact(option)
    child.expect_exact("Or paste that line here")
    child.expect_exact("Redirected URL (or code): ")
    child.sendline(LINE)
    child.expect_exact("RedirectUriMismatch: ")
    child.expect_exact(suggestion)
    child.expect(pexpect.EOF)
    shown = child.before or ""
    child.close()
    assert "Still no redirect" not in shown  # once
    assert ("redirect_uri=" in transcript.getvalue()) == (speaker == "library")


# -- ticktick-auth login in a real pseudo-terminal ---------------------------------------------


def _login(fake: FakeTickTick, tmp_path: Path, redirect: str) -> pexpect.spawn[str]:
    """``login`` with *redirect*, every value a flag or variable, no browser."""
    env = clean_env(TICKTICK_CLIENT_SECRET=fake.client_secret)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("BROWSER", None)
    child = spawn_cli(
        *("login", "--host", fake.url, "--client-id", fake.client_id),
        *("--redirect-uri", redirect, "--cache-path", str(tmp_path / "tok")),
        *("--no-browser", "--timeout", "30"),
        env=env,
        cwd=tmp_path,
    )
    return child


@pytest.mark.timeout(90)
def test_login_pre_checks_then_a_pasted_mismatch_suggests_the_flag(tmp_path: Path) -> None:
    registered = f"http://127.0.0.1:{free_port()}/"
    sent = f"http://127.0.0.1:{free_port()}/callback"
    with FakeTickTick(redirect_uris=[registered]) as fake:
        child = _login(fake, tmp_path, sent)
        port = urlsplit(sent).port
        child.expect_exact(f"Redirect URI {sent} (sent as is: it must be registered exactly so)")
        child.expect_exact(f": listening on 127.0.0.1:{port} for the path /callback.")
        child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        assert isinstance(child.match, re.Match)
        url = child.match[1]
        child.expect_exact("Redirected URL (or code): ")
        # The browser shows TickTick's error instead of redirecting; the person pastes it.
        error_line = _page_error(fake, url)
        assert error_line.startswith(f"Invalid redirect: {sent} does not match")
        child.sendline(error_line)
        child.expect(pexpect.EOF)
        shown = child.before or ""
        child.close()
    assert child.exitstatus == 1, shown
    assert f"Authorize again with --redirect-uri {registered} (exactly as registered" in shown
    assert "trailing slash" in shown
    assert "redirect_uri=" not in shown.split("Redirected URL (or code): ")[-1]
    assert "no 'code'" not in shown
    assert fake.client_secret not in shown


@pytest.mark.timeout(90)
def test_login_never_echoes_a_code_or_state_inside_a_pasted_mismatch(tmp_path: Path) -> None:
    sent = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[sent]) as fake:
        child = _login(fake, tmp_path, sent)
        child.expect(r"state=([A-Za-z0-9_-]+)")
        assert isinstance(child.match, re.Match)
        state = child.match[1]
        child.expect_exact("Redirected URL (or code): ")
        pasted = f"{sent}?code=SeCrEtCoDe42&state={state}"
        child.sendline(LINE.replace(SENT, pasted).replace(REGISTERED, sent + "x"))
        child.expect(pexpect.EOF)
        shown = (child.before or "").split("\n", 1)[1]  # after the echo of the paste
        child.close()
    assert "--redirect-uri" in shown
    assert "SeCrEtCoDe42" not in shown
    assert state not in shown


@pytest.mark.timeout(90)
def test_login_explains_a_pasted_authorization_page_address_and_asks_again(
    tmp_path: Path,
) -> None:
    registered = f"http://127.0.0.1:{free_port()}/"
    sent = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[registered]) as fake:
        child = _login(fake, tmp_path, sent)
        child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        assert isinstance(child.match, re.Match)
        url = child.match[1]
        child.expect_exact("Redirected URL (or code): ")
        child.sendline(url)
        child.expect_exact("authorization page itself")
        child.expect_exact("Try again (2 left).")
        child.expect_exact("Redirected URL (or code): ")
        child.sendline(_page_error(fake, url))
        child.expect_exact(f"--redirect-uri {registered}")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 1


# -- the token endpoint's invalid_grant: the same advice -------------------------------------


def test_the_token_endpoints_mismatch_names_the_registered_uri_through_oauth2() -> None:
    """TickTick lets the browser through but its token endpoint refuses the redirect URI."""
    sent = f"http://127.0.0.1:{free_port()}/"
    with (
        FakeTickTick(redirect_uris=[REGISTERED], redirect_check="token") as fake,
        pytest.raises(RedirectUriMismatch) as caught,
    ):
        fake.oauth2(redirect_uri=sent, cache_path=None).get_access_token()
    error = caught.value
    assert isinstance(error, InvalidGrant)  # the exchange's hierarchy
    assert isinstance(error, RedirectParseError)  # and the pasted page's
    assert error.status == 400
    assert error.error == "invalid_grant"
    assert error.error_description is not None
    assert error.error_description.startswith(f"Invalid redirect: {sent} does not match")
    assert (error.sent, error.registered) == (sent, (REGISTERED,))
    message = str(error)
    assert f"Authorize again with redirect_uri='{REGISTERED}' (exactly as registered" in message
    assert "HTTP 400" in message
    assert "--redirect-uri" not in message


@pytest.mark.timeout(90)
def test_login_after_the_token_endpoints_mismatch_suggests_the_flag(tmp_path: Path) -> None:
    registered = f"http://127.0.0.1:{free_port()}/"
    sent = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[registered], redirect_check="token") as fake:
        child = _login(fake, tmp_path, sent)
        child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        assert isinstance(child.match, re.Match)
        url = child.match[1]
        child.expect_exact("Redirected URL (or code): ")
        # The page lets the browser through to the (unregistered) loopback URI: captured.
        form = {**dict(parse_qsl(urlsplit(url).query)), "decision": "allow"}
        answer = requests.post(f"{fake.url}/oauth/authorize", data=form, timeout=10)
        assert answer.status_code == 200
        child.expect(pexpect.EOF)
        shown = child.before or ""
        child.close()
    assert child.exitstatus == 1, shown
    (error,) = [line for line in shown.splitlines() if line.startswith("ticktick-auth:")]
    assert "HTTP 400: invalid_grant" in error
    assert f"Authorize again with --redirect-uri {registered} (exactly as registered" in error
    assert "redirect_uri=" not in error
    assert fake.client_secret not in shown
    assert not (tmp_path / "tok").exists()
