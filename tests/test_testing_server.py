"""The fake TickTick server behaves like TickTick's OAuth endpoints."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from ticktick import AccessDenied, OAuthError
from ticktick.testing import FakeTickTick

REDIRECT = "http://127.0.0.1:8080/"


def authorize_params(fake: FakeTickTick, **overrides: str) -> dict[str, str]:
    return {
        "client_id": fake.client_id,
        "scope": "tasks:read tasks:write",
        "state": "st",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        **overrides,
    }


def get_code(fake: FakeTickTick) -> str:
    form = {**authorize_params(fake), "decision": "allow"}
    answer = requests.post(
        f"{fake.url}/oauth/authorize", data=form, allow_redirects=False, timeout=5
    )
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def token_call(fake: FakeTickTick, **form: str) -> requests.Response:
    return requests.post(
        f"{fake.url}/oauth/token",
        data={"grant_type": "authorization_code", "redirect_uri": REDIRECT, **form},
        auth=(fake.client_id, fake.client_secret),
        timeout=5,
    )


def test_authorize_page_has_allow_and_deny(fake: FakeTickTick) -> None:
    page = requests.get(f"{fake.url}/oauth/authorize", params=authorize_params(fake), timeout=5)
    assert page.status_code == 200
    assert 'id="allow"' in page.text
    assert 'id="deny"' in page.text
    assert "tasks:write" in page.text


def test_authorize_page_escapes_its_input(fake: FakeTickTick) -> None:
    params = authorize_params(fake, scope="<script>alert(1)</script>", state='"><b>x')
    page = requests.get(f"{fake.url}/oauth/authorize", params=params, timeout=5)
    assert "<script>alert" not in page.text
    assert '"><b>x' not in page.text


@pytest.mark.parametrize(
    ("override", "text"),
    [
        ({"client_id": "nobody"}, "invalid_client"),
        ({"redirect_uri": "http://evil/"}, "Invalid redirect"),
    ],
)
def test_authorize_errors_are_pages_not_redirects(
    fake: FakeTickTick, override: dict[str, str], text: str
) -> None:
    params = authorize_params(fake, **override)
    for answer in (
        requests.get(
            f"{fake.url}/oauth/authorize", params=params, timeout=5, allow_redirects=False
        ),
        requests.post(
            f"{fake.url}/oauth/authorize",
            data={**params, "decision": "allow"},
            timeout=5,
            allow_redirects=False,
        ),
    ):
        assert answer.status_code == 400
        assert text in answer.text


def test_unsupported_response_type_redirects_with_error(fake: FakeTickTick) -> None:
    params = authorize_params(fake, response_type="token")
    answer = requests.get(
        f"{fake.url}/oauth/authorize", params=params, allow_redirects=False, timeout=5
    )
    assert "error=unsupported_response_type" in answer.headers["Location"]
    assert "state=st" in answer.headers["Location"]


def test_auto_approve_redirects_at_once() -> None:
    with FakeTickTick(auto_approve=True) as fake:
        answer = requests.get(
            f"{fake.url}/oauth/authorize?{urlencode(authorize_params(fake))}",
            allow_redirects=False,
            timeout=5,
        )
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith(REDIRECT + "?code=")


def test_codes_are_single_use(fake: FakeTickTick) -> None:
    code = get_code(fake)
    assert token_call(fake, code=code).status_code == 200
    again = token_call(fake, code=code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_token_endpoint_checks(fake: FakeTickTick) -> None:
    code = get_code(fake)
    no_auth = requests.post(f"{fake.url}/oauth/token", data={"code": code}, timeout=5)
    assert no_auth.status_code == 401
    assert no_auth.json()["error"] == "invalid_client"
    bad_basic = requests.post(
        f"{fake.url}/oauth/token", headers={"Authorization": "Basic !!!"}, timeout=5
    )
    assert bad_basic.status_code == 401
    as_json = requests.post(
        f"{fake.url}/oauth/token",
        json={"code": code},
        auth=(fake.client_id, fake.client_secret),
        timeout=5,
    )
    assert as_json.json()["error"] == "invalid_request"
    grant = token_call(fake, code=code, grant_type="client_credentials")
    assert grant.json()["error"] == "unsupported_grant_type"
    mismatch = token_call(fake, code=code, redirect_uri="http://127.0.0.1:8080")
    assert "does not match one of the registered values" in mismatch.json()["error_description"]


def test_unknown_path_is_404(fake: FakeTickTick) -> None:
    assert requests.get(f"{fake.url}/nope", timeout=5).status_code == 404
    assert requests.head(f"{fake.url}/nope", timeout=5).status_code == 404
    assert requests.put(f"{fake.url}/nope", timeout=5).status_code == 404
    assert requests.delete(f"{fake.url}/nope", timeout=5).status_code == 404


def test_approver_reports_a_page_instead_of_a_redirect(fake: FakeTickTick) -> None:
    with pytest.raises(OAuthError, match="HTTP 400"):
        fake.oauth2(cache_path=None, redirect_uri="http://127.0.0.1:9/unregistered")


def test_deny_gives_access_denied(fake: FakeTickTick) -> None:
    with pytest.raises(AccessDenied):
        fake.oauth2(cache_path=None, authorizer=fake.approver("deny"))


def test_stopped_server_has_no_port() -> None:
    fake = FakeTickTick()
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url
    fake.start()
    assert fake.start() is fake
    fake.stop()
    fake.stop()


def test_pytest_fixture_is_registered(tmp_path: Path) -> None:
    test_file = tmp_path / "test_user.py"
    test_file.write_text(
        "def test_uses_fixture(fake_ticktick, tmp_path):\n"
        "    oauth = fake_ticktick.oauth2(cache_path=tmp_path / 'token')\n"
        "    assert oauth.get_access_token() in fake_ticktick.issued\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_demo_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from ticktick.testing.demo import run

    assert run(tmp_path) == 0
    out = capsys.readouterr().out
    assert "from authorization" in out
    assert "from cache:" in out
    assert "requests made: 0" in out
    assert "from env:DEMO_ACCESS_TOKEN_DICT" in out
    assert "ReauthorizationRequired" in out
    assert "mode 0600" in out
    assert "completed tasks in the project: ['Try ticktick-oauth']" in out
    assert "projects: ['Demo project']" in out


def test_query_credentials_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    # This test plays an older client that puts its secret in the URL, so it stays out of
    # the run's secrets audit (see leak_audit.py): no server registration, no logging.
    monkeypatch.setattr(FakeTickTick, "on_start", [])
    logging.disable(logging.CRITICAL)
    try:
        for enabled, status in ((False, 401), (True, 200)):
            with FakeTickTick(query_credentials=enabled) as fake:
                code = get_code(fake)
                params = {
                    "client_id": fake.client_id,
                    "client_secret": fake.client_secret,
                    "code": code,
                    "grant_type": "authorization_code",
                    "redirect_uri": REDIRECT,
                }
                answer = requests.post(f"{fake.url}/oauth/token", params=params, timeout=5)
                assert answer.status_code == status
    finally:
        logging.disable(logging.NOTSET)
