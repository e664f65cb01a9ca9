"""The secrets audit can fail: planted leaks are found.

The planting happens on a fake server kept out of the session-wide audit, with
logging switched off, so that the run's own audit stays clean.
"""

from __future__ import annotations

import logging

import pytest
import requests
from leak_audit import Secrets, find_leaks

from ticktick.testing import FakeTickTick


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
    assert len(leaks) == len(planted)
    report = "\n".join(leaks)
    assert basic not in report
    assert "se/cr+et=value" not in report
