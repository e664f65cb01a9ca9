"""Bad input from a person or a caller is a typed error, never a raw ``ValueError``.

Found by an outside attack on issue 11:

* A pasted URL with a broken host (``http://[127.0.0.1:8080/?code=...``) made
  `parse_redirect` leak ``ValueError: Invalid IPv6 URL`` from ``urlsplit``, and
  ``ticktick-auth login`` died with a traceback instead of asking again.
* A NUL character in ``cache_path`` gave ``ValueError: embedded null byte`` from
  ``os.open``, through ``OAuth2(...)`` and ``FileStore(...).read()``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from ticktick import OAuth2
from ticktick.errors import ConfigurationError, RedirectParseError
from ticktick.signon import parse_redirect
from ticktick.store import FileStore

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
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(
        TICKTICK_CLIENT_ID="cid",
        TICKTICK_CLIENT_SECRET="sekrit-value-123",
        TICKTICK_REDIRECT_URI="http://127.0.0.1:8765/",
        TERM="dumb",
    )
    child = pexpect.spawn(
        sys.executable,
        [
            *("-m", "ticktick", "login", "--no-capture", "--no-browser"),
            *("--cache-path", str(tmp_path / "tok")),
        ],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=30,
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
