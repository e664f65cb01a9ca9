"""Bad input from a person or a caller is a typed error, never a raw ``ValueError``.

Found by an outside attack on issue 11:

* A pasted URL with a broken host (``http://[127.0.0.1:8080/?code=...``) made
  `parse_redirect` leak ``ValueError: Invalid IPv6 URL`` from ``urlsplit``, and
  ``ticktick-auth login`` died with a traceback instead of asking again.
* A NUL character in ``cache_path`` gave ``ValueError: embedded null byte`` from
  ``os.open``, through ``OAuth2(...)`` and ``FileStore(...).read()``.

Found by the second outside attack:

* ``host="https://exa mple.org"`` (or ``"https://ex%00.org"``) was accepted, and
  ``exchange_code`` then raised ``requests.exceptions.InvalidURL`` (``prepare_request``
  ran outside the typed-error handling): ``ticktick-auth login`` died with a
  traceback after the code was pasted. ``redirect_uri="http://[::1"`` gave a bare
  ``ValueError`` from ``get_access_token()``. Both are refused when ``OAuth2`` is
  made now, with a host carrying a password (which messages would show), a port
  outside 1-65535 (``http://127.0.0.1:99999/`` was "not a loopback address") and a
  loopback redirect on port 0, where no redirect can arrive.
* ``expiry_margin`` nan, inf or -1 and ``expiry_warning_days`` nan were accepted: a
  nan margin made an expired token never expire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pexpect
import pytest
from helpers import clean_env, spawn_cli

from ticktick import OAuth2, ReauthorizationRequired
from ticktick.endpoints import Endpoints
from ticktick.errors import ConfigurationError, RedirectParseError
from ticktick.signon import parse_redirect
from ticktick.signon.loopback import loopback_address
from ticktick.stores import FileStore

BROKEN_HOSTS = [
    "http://[127.0.0.1:8080/?code=abc123&state=xyz",
    "http://[::1/?code=abc123&state=xyz",
    "http://127.0.0.1]:8080/?code=abc123&state=xyz",
]


@pytest.mark.parametrize("url", BROKEN_HOSTS)
def test_a_pasted_url_with_a_broken_host_is_a_redirect_parse_error(url: str) -> None:
    with pytest.raises(RedirectParseError) as caught:
        parse_redirect(url, "xyz")
    assert "abc123" not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.timeout(60)
def test_login_asks_again_after_a_pasted_url_with_a_broken_host(tmp_path: Path) -> None:
    env = clean_env(
        TICKTICK_CLIENT_ID="cid",
        TICKTICK_CLIENT_SECRET="sekrit-value-123",
        TICKTICK_REDIRECT_URI="http://127.0.0.1:8765/",
        TERM="dumb",
    )
    child = spawn_cli(
        *("login", "--no-capture", "--no-browser", "--cache-path", str(tmp_path / "tok")),
        env=env,
        cwd=tmp_path,
    )
    try:
        child.expect("Redirected URL")
        child.sendline(BROKEN_HOSTS[0])
        child.expect("Redirected URL")  # asked again
        seen = child.before or ""
    finally:
        child.terminate(force=True)
    assert "cannot be read" in seen
    assert "Traceback" not in seen


def test_a_nul_in_cache_path_is_refused_when_oauth2_is_made(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="NUL"):
        OAuth2(
            "cid",
            "sekrit-value-123",
            "http://127.0.0.1:8080/",
            cache_path=str(tmp_path / "a\0b"),
            interactive=False,
        )


def test_a_nul_in_a_file_store_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="NUL"):
        FileStore(str(tmp_path / "a\0b")).read()
    assert list(tmp_path.iterdir()) == []


# -- malformed URLs: refused when OAuth2 is made ------------------------------------------


def oauth2(**kwargs: Any) -> OAuth2:
    settings: dict[str, Any] = {
        "client_id": "cid",
        "client_secret": "sekrit-value-123",
        "redirect_uri": "http://127.0.0.1:8080/",
        "cache_path": None,
        "resolve": False,
        "interactive": False,
        "timeout": 2,
        **kwargs,
    }
    return OAuth2(**settings)


@pytest.mark.parametrize(
    ("host", "match"),
    [
        ("https://exa mple.org", "a space or a control character"),
        ("https://exa\tmple.org", "a space or a control character"),
        ("https://ex%00.org", "a character other than ASCII letters"),
        ("https://.example.org", "an empty part"),
        ("https://[::1", "not a readable URL"),
        ("https://[zz::1]", "IPv6"),
        ("https://example.org:99999", "port '99999', which is not a number from 1 to 65535"),
        ("https://example.org:0", "port '0'"),
    ],
)
def test_a_malformed_host_is_refused_when_oauth2_is_made(host: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        oauth2(host=host)


@pytest.mark.parametrize("host", ["https://u:pa55word@example.org", "https://u:pa55word@[::1"])
def test_a_host_with_a_password_is_refused_without_showing_it(host: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        oauth2(host=host)
    assert "pa55word" not in str(caught.value)
    assert "<redacted>@" in str(caught.value)


@pytest.mark.parametrize(
    "host", ["https://xn--bcher-kva.de", "https://a_b.example.org:8443/base/", "https://[::1]:9"]
)
def test_a_well_formed_host_is_accepted(host: str) -> None:
    assert oauth2(host=host).endpoints.token_url.endswith("/oauth/token")


@pytest.mark.parametrize(
    ("redirect_uri", "match"),
    [
        ("http://[::1", "not a readable URL"),
        ("http://127.0.0.1:99999/", "port '99999', which is not a number from 1 to 65535"),
        ("http://127.0.0.1:0/", "port '0'"),
        ("myapp://callback", "redirect_uri must be"),
        ("http:///callback", "redirect_uri must be"),
        ("http://127.0.0.1:8080/\n", "a space or a control character"),
        # RFC 6749 3.1.2: the browser would keep the fragment, and the code after it
        ("http://127.0.0.1:8080/#done", "has a fragment"),
        ("http://127.0.0.1:8080/cb#", "has a fragment"),
    ],
)
def test_a_malformed_redirect_uri_is_refused_when_oauth2_is_made(
    redirect_uri: str, match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        oauth2(redirect_uri=redirect_uri, interactive=True)


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:99999/", "http://localhost:0/"])
def test_a_loopback_redirect_with_a_bad_port_is_a_bad_port(redirect_uri: str) -> None:
    with pytest.raises(ConfigurationError, match="not a number from 1 to 65535"):
        loopback_address(redirect_uri)


def test_a_token_request_that_cannot_be_made_is_a_typed_error_and_sends_nothing() -> None:
    # Made by requests when it prepares the request: a URL it refuses (from an
    # Endpoints given as it is), a client id HTTP Basic cannot carry.
    bad = "https://exa mple.org"
    endpoints = Endpoints(bad, f"{bad}/oauth/authorize", f"{bad}/oauth/token", f"{bad}/open/v1")
    with pytest.raises(ConfigurationError, match="InvalidURL") as caught:
        oauth2(host=endpoints).exchange_code("Code1234")
    assert "The code was not sent" in str(caught.value)
    with pytest.raises(ConfigurationError, match="cannot be made") as caught:
        oauth2(client_id="cid\u20ac", host="http://127.0.0.1:9").exchange_code("Code1234")
    assert "Code1234" not in str(caught.value)
    assert "sekrit" not in str(caught.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("host", ["https://exa mple.org", "https://ex%00.org"])
def test_login_with_a_malformed_host_is_a_usage_error_at_once(tmp_path: Path, host: str) -> None:
    env = clean_env(TICKTICK_CLIENT_SECRET="sekrit-value-123", TERM="dumb")
    child = spawn_cli(
        *("login", "--client-id", "cid", "--host", host),
        *("--redirect-uri", "http://127.0.0.1:8080/", "--no-capture", "--no-browser"),
        *("--cache-path", str(tmp_path / "tok")),
        env=env,
        cwd=tmp_path,
    )
    try:
        index = child.expect(["Redirected URL", pexpect.EOF])
        if index == 0:  # asked for the code first: paste one, as the attack did
            child.sendline("Abc12345")
            child.expect(pexpect.EOF)
        seen = (child.before or "") + (child.after if isinstance(child.after, str) else "")
    finally:
        child.close(force=True)
    assert index == 1, "the host was not refused before the sign-on"
    assert child.exitstatus == 2, seen
    assert "argument --host: is not a usable host" in seen
    assert "Traceback" not in seen
    assert "InvalidURL" not in seen


# -- numbers: refused when OAuth2 is made ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("expiry_margin", float("nan")),
        ("expiry_margin", float("inf")),
        ("expiry_margin", -1),
        ("expiry_margin", "60"),
        ("expiry_margin", True),
        ("expiry_warning_days", float("nan")),
        ("expiry_warning_days", float("inf")),
        ("expiry_warning_days", -1),
    ],
)
def test_an_unusable_expiry_number_is_refused_when_oauth2_is_made(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}=.* must be a finite number") as caught:
        oauth2(**{name: value})
    assert "0 or more" in str(caught.value)


def test_a_zero_margin_is_accepted_and_an_expired_token_still_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expired = {"access_token": "tok-expired", "expire_time": 1000}
    monkeypatch.setenv("BAD_INPUT_TOKEN", json.dumps(expired))
    oauth = oauth2(env_key="BAD_INPUT_TOKEN", expiry_margin=0, expiry_warning_days=0)
    assert oauth.expiry_margin == 0
    with pytest.raises(ReauthorizationRequired):
        oauth.get_access_token()
