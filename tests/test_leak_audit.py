"""The secrets audit can fail: planted leaks are found.

The planting happens on a fake server kept out of the session-wide audit, with
logging switched off, or in a pytest run of its own, so that the run's own audit
stays clean.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from conftest import env_without_coverage
from leak_audit import Secrets, find_leaks

from ticktick.testing import FakeTickTick

HERE = Path(__file__).resolve().parent


def test_planted_leaks_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeTickTick, "on_start", [])  # not part of the session's audit
    logging.disable(logging.CRITICAL)
    try:
        with FakeTickTick() as fake:
            token = fake.oauth2(cache_path=None).get_access_token()
            (code,) = fake.codes_issued
            secrets = Secrets.of([fake])
            clean = find_leaks(secrets, [("ticktick", "all fine")], ["no secret here"], [fake])
            ua = {"User-Agent": "ticktick-oauth/test"}
            requests.get(f"{fake.url}/leak?secret={fake.client_secret}", headers=ua, timeout=5)
            requests.get(f"{fake.url}/leak?t={token}", timeout=5)
            leaks = find_leaks(
                secrets,
                [
                    ("ticktick", f"code {code}"),
                    ("urllib3.connectionpool", f"GET /?token={token}"),
                    ("urllib3.connectionpool", f"GET /?code={code}"),
                ],
                [f"refused: {fake.client_secret}"],
                [fake],
            )
    finally:
        logging.disable(logging.NOTSET)
    assert secrets.tokens == {token}
    assert fake.client_secret in secrets.client_secrets
    assert clean == []
    text = "\n".join(leaks)
    assert "log record of 'ticktick'" in text
    assert "log record of 'urllib3.connectionpool' contains" in text
    assert text.count("log record") == 2  # a code in urllib3's log of a browser is allowed
    assert "exception message" in text
    assert text.count("URL GET /leak") == 2
    assert fake.client_secret not in text
    assert token not in text


def test_planted_leaks_in_other_encodings_are_found() -> None:
    """Base64 of the Basic credential, percent-, form- and JSON-encoded secrets count too."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    secrets = Secrets(
        client_secrets={"se/cr+et=value"},
        codes={"c0de-value"},
        tokens={"t0ken/value"},
        basic_credentials={"the-client:se/cr+et=value"},
    )
    basic = base64.b64encode(b"the-client:se/cr+et=value").decode()
    planted = [
        f"Authorization: Basic {basic}",
        base64.urlsafe_b64encode(b"the-client:se/cr+et=value").decode().rstrip("="),
        quote(basic, safe="").lower(),
        quote("se/cr+et=value", safe=""),
        quote_plus("se/cr+et=value", safe=""),
        json.dumps("t0ken/value")[1:-1].replace("/", "\\/"),
        quote("c0de-value"),
    ]
    leaks = find_leaks(secrets, [], planted, [])
    # Each is found (a Basic credential twice: the client secret shows inside its base64).
    assert all(find_leaks(secrets, [], [text], []) for text in planted)
    report = "\n".join(leaks)
    assert basic not in report
    assert "se/cr+et=value" not in report


SECRET = "planted-secret-4f1c9a"

# Run by the suite's own conftest.py (loaded as a plugin), in a pytest of its own.
PLANTED = f"""
import pytest

from ticktick.testing import FakeTickTick


@pytest.fixture
def secret():
    with FakeTickTick(client_secret="{SECRET}") as fake:  # its secret joins the audit
        yield fake.client_secret


def test_looks_at_the_message(secret):
    with pytest.raises(ValueError) as info:
        raise ValueError(f"refused: {{secret}}")
    assert "refused" in str(info.value)


def test_only_checks_the_type(secret):
    with pytest.raises(ValueError):
        raise ValueError(f"refused: {{secret}}")


def test_calls_a_function(secret):
    def refuse():
        raise ValueError(f"refused: {{secret}}")

    pytest.raises(ValueError, refuse)


def test_sees_the_cause(secret):
    with pytest.raises(RuntimeError, match="exchange failed"):
        try:
            raise KeyError(secret)
        except KeyError as err:
            raise RuntimeError("exchange failed") from err


def test_clean(secret):
    with pytest.raises(ValueError, match="refused"):
        raise ValueError("refused, and no secret said")
"""


# A test module without the word, whose helper in another module uses pytest.raises.
PLANTED_HELPER = """
import pytest


def expect_refusal(action):
    with pytest.raises(ValueError):
        action()
"""
PLANTED_THROUGH_A_HELPER = f"""
import pytest
from planted_helper import expect_refusal

from ticktick.testing import FakeTickTick


@pytest.fixture
def secret():
    with FakeTickTick(client_secret="{SECRET}") as fake:
        yield fake.client_secret


def test_through_a_helper(secret):
    def refuse():
        raise ValueError(f"refused: {{secret}}")

    expect_refusal(refuse)
"""


def test_a_leak_seen_through_plain_pytest_raises_fails_the_run(tmp_path: Path) -> None:
    """Secrets in messages that tests observed with the real pytest.raises, in every form."""
    (tmp_path / "test_planted.py").write_text(PLANTED)
    (tmp_path / "planted_helper.py").write_text(PLANTED_HELPER)
    (tmp_path / "test_planted_through_a_helper.py").write_text(PLANTED_THROUGH_A_HELPER)
    env = env_without_coverage()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, out + result.stderr
    assert "6 passed" in out  # the tests pass: only the audit fails the run
    assert "7 exception messages (of 6 exceptions seen by pytest.raises" in out
    assert out.count("LEAK: exception message contains") == 5, out
    assert SECRET not in out  # the report masks what it found
