"""Server metadata (RFC 8414) and token revocation (RFC 7009), against real servers."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pexpect
import pytest
import requests
from helpers import FUTURE, clean_env, run_cli, spawn_cli, token_dict
from hostile import Connection, HostileServer, answering

from ticktick import DIDA365, TICKTICK, Endpoints, OAuth2, RevocationFailed
from ticktick.metadata import metadata_url, server_metadata
from ticktick.testing import FakeTickTick

WELL_KNOWN = "/.well-known/oauth-authorization-server"
JSON = {"Content-Type": "application/json"}


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode()))


def _api_status(fake: FakeTickTick, token: str) -> int:
    answer = requests.get(
        f"{fake.url}/open/v1/project", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    return answer.status_code


# -- metadata --------------------------------------------------------------------------


def test_metadata_is_read_once_per_host(fake: FakeTickTick) -> None:
    first = server_metadata(fake.endpoints)
    again = server_metadata(fake.endpoints)
    assert first.found
    assert first.issuer == fake.url
    assert first.revocation_endpoint == f"{fake.url}/oauth/revoke"
    assert first.code_challenge_methods == ("S256",)
    assert again is first
    assert len(fake.requests_to(WELL_KNOWN)) == 1
    assert metadata_url(fake.endpoints) == f"{fake.url}{WELL_KNOWN}"
    assert metadata_url(TICKTICK) == f"https://ticktick.com{WELL_KNOWN}"
    assert metadata_url(DIDA365) == f"https://dida365.com{WELL_KNOWN}"


def test_absent_metadata_is_no_error_and_sign_on_never_needs_it() -> None:
    with FakeTickTick(metadata=False) as fake:
        found = server_metadata(fake.endpoints)
        assert not found.found
        assert found.absent
        assert found.problem == "HTTP 404"
        server_metadata(fake.endpoints)
        assert len(fake.requests_to(WELL_KNOWN)) == 1  # an answer, even "none", is kept
        assert fake.oauth2(cache_path=None).get_access_token() in fake.issued
        assert len(fake.requests_to(WELL_KNOWN)) == 1  # the sign-on did not ask


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>Welcome</html>", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"issuer": "https://elsewhere.example"}', "its issuer is not"),
        (b"{}", "its issuer is not"),
    ],
)
def test_malformed_metadata_is_no_error(body: bytes, problem: str) -> None:
    with HostileServer(answering(200, body, JSON)) as server:
        found = server_metadata(Endpoints.from_base_url(server.url))
    assert not found.found
    assert not found.absent
    assert found.problem is not None
    assert found.problem.startswith(problem)


def test_an_insecure_revocation_endpoint_is_refused() -> None:
    def handler(conn: Connection) -> None:
        conn.read_request()
        document = {"issuer": url, "revocation_endpoint": "http://revoke.example/revoke"}
        conn.respond(200, json.dumps(document).encode(), JSON)

    with HostileServer(handler) as server:
        url = server.url
        found = server_metadata(Endpoints.from_base_url(url))
    assert found.problem == "its revocation_endpoint is not an https URL"


def test_slow_metadata_ends_soon_and_is_asked_again() -> None:
    def silent(conn: Connection) -> None:
        conn.read_request()
        conn.hold()

    with HostileServer(silent) as server:
        endpoints = Endpoints.from_base_url(server.url)
        started = time.monotonic()
        found = server_metadata(endpoints, timeout=(1, 1))
        took = time.monotonic() - started
        assert found.problem == "no answer within 1 s"
        assert took < 10  # well under a hang
        server_metadata(endpoints, timeout=(1, 1))
        assert server.connections == 2  # a failure to answer is not kept


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_busy_metadata_answer_is_not_kept(fake: FakeTickTick, status: int) -> None:
    """Only a definitive answer is kept: after a 5xx/429, revoke() "again later" works."""
    oauth = fake.oauth2(cache_path=None)
    token = oauth.get_access_token()
    fake.fail(WELL_KNOWN, status, headers={"Retry-After": "0"})
    with pytest.raises(RevocationFailed, match="again later"):
        oauth.revoke()
    assert oauth.token_in_memory() == token
    assert oauth.revoke().revoked
    assert token in fake.revoked
    assert len(fake.requests_to(WELL_KNOWN)) == 2  # it was asked again


def test_a_busy_metadata_answer_does_not_affect_another_client(fake: FakeTickTick) -> None:
    first = fake.oauth2(cache_path=None)
    first.get_access_token()
    fake.fail(WELL_KNOWN, 500)
    with pytest.raises(RevocationFailed):
        first.revoke()
    second = fake.oauth2(cache_path=None)
    token = second.get_access_token()
    assert second.revoke().revoked
    assert token in fake.revoked


def test_trickled_metadata_ends_within_its_deadline() -> None:
    def trickle(conn: Connection) -> None:
        conn.read_request()
        conn.trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", every=0.3)

    with HostileServer(trickle) as server:
        found = server_metadata(Endpoints.from_base_url(server.url), timeout=(1, 1))
    assert found.problem == "no answer within 1 s"


# -- revocation with the library ---------------------------------------------------------


def test_revoke_at_the_advertised_endpoint(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    token = oauth.get_access_token()
    result = oauth.revoke()
    assert result.revoked
    assert result.endpoint == f"{fake.url}/oauth/revoke"
    assert result.reason is None
    assert token in fake.revoked
    assert _api_status(fake, token) == 401  # the Open API refuses it now
    assert oauth.token_in_memory() is None
    assert not cache_path.exists() or token not in cache_path.read_text()
    (request,) = fake.requests_to("/oauth/revoke")
    assert request.query == ""
    assert _form(request.body) == {"token": token, "token_type_hint": "access_token"}
    basic = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"


def test_revoke_the_stored_token_of_a_new_client(fake: FakeTickTick, cache_path: Path) -> None:
    token = fake.oauth2(cache_path=cache_path).get_access_token()
    later = fake.oauth2(cache_path=cache_path, resolve=False)
    assert later.revoke().revoked
    assert token in fake.revoked
    assert later.cache is not None
    assert later.cache.read() is None


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"revocation": False}, "advertises no revocation endpoint"),
        ({"metadata": False}, "publishes no server metadata (HTTP 404"),
    ],
)
def test_no_advertised_endpoint_removes_the_token_here_and_says_so(
    cache_path: Path, caplog: pytest.LogCaptureFixture, options: dict[str, Any], said: str
) -> None:
    with FakeTickTick(**options) as fake:
        oauth = fake.oauth2(cache_path=cache_path)
        token = oauth.get_access_token()
        with caplog.at_level(logging.WARNING, logger="ticktick"):
            result = oauth.revoke()
        assert not result.revoked
        assert result.endpoint is None
        assert result.reason is not None
        assert said in result.reason
        assert "stays valid at the server" in result.reason
        assert fake.requests_to("/oauth/revoke") == []  # no guessed address
        assert not fake.revoked
        assert _api_status(fake, token) == 200  # never claimed: it still works
    assert oauth.token_in_memory() is None
    assert oauth.cache is not None
    assert oauth.cache.read() is None
    assert said in caplog.text
    assert "removed here only" in caplog.text


def test_no_token_means_nothing_is_sent(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, resolve=False)
    result = oauth.revoke()
    assert not result.revoked
    assert result.reason == "There is no token to revoke."
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (400, '{"error": "unsupported_token_type"}', "HTTP 400: unsupported_token_type"),
        (401, '{"error": "invalid_client", "error_description": "Bad"}', "invalid_client (Bad)"),
        (500, "<html>Internal error</html>", "HTTP 500: 'Internal error'"),
    ],
)
def test_a_failed_revocation_keeps_the_token(
    fake: FakeTickTick, cache_path: Path, status: int, body: str, said: str
) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    token = oauth.get_access_token()
    fake.fail("/oauth/revoke", status, body=body)
    with pytest.raises(RevocationFailed) as caught:
        oauth.revoke()
    assert caught.value.status == status
    assert caught.value.token_removed is False
    message = str(caught.value)
    assert said in message
    assert "The token was not revoked" in message
    assert "still kept here" in message
    assert oauth.token_in_memory() == token
    assert oauth.cache is not None
    stored = oauth.cache.read()
    assert stored is not None
    assert stored["access_token"] == token
    assert oauth.revoke().revoked  # and it can be tried again


@pytest.mark.parametrize(
    ("error", "description"),
    [("unsupported_token_type", "Revocation is not supported"), ("server_error", None)],
)
def test_a_200_carrying_an_oauth_error_is_no_revocation(
    fake: FakeTickTick, cache_path: Path, error: str, description: str | None
) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    token = oauth.get_access_token()
    answer = {"error": error} | ({"error_description": description} if description else {})
    fake.fail("/oauth/revoke", 200, body=json.dumps(answer))
    with pytest.raises(RevocationFailed) as caught:
        oauth.revoke()
    message = str(caught.value)
    assert f"answered HTTP 200 with an error: {error}" in message
    assert "The token was not revoked" in message
    assert caught.value.error == error
    assert caught.value.token_removed is False
    assert token not in fake.revoked
    assert oauth.token_in_memory() == token
    assert token in cache_path.read_text()


def test_unreadable_metadata_is_a_failure_that_keeps_the_token(
    fake: FakeTickTick, cache_path: Path
) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    token = oauth.get_access_token()
    fake.fail(WELL_KNOWN, 200, body="{not json")
    with pytest.raises(RevocationFailed, match="Could not learn whether") as caught:
        oauth.revoke()
    assert "not JSON" in str(caught.value)
    assert caught.value.token_removed is False
    assert oauth.token_in_memory() == token
    assert fake.requests_to("/oauth/revoke") == []


def _hostile_revocation(on_revoke: Any) -> HostileServer:
    """A server whose metadata advertises its own /revoke, where *on_revoke* answers."""
    urls: list[str] = []

    def handler(conn: Connection) -> None:
        request = conn.read_request()
        if request.target.startswith(WELL_KNOWN):
            document = {"issuer": urls[0], "revocation_endpoint": f"{urls[0]}/revoke"}
            conn.respond(200, json.dumps(document).encode(), JSON)
        else:
            on_revoke(conn, request)

    server = HostileServer(handler)
    urls.append(server.url)
    return server


def _env_client(server: HostileServer, monkeypatch: pytest.MonkeyPatch) -> OAuth2:
    monkeypatch.setenv("REVOKE_TOKEN", json.dumps(token_dict("tok-hostile-revoke", FUTURE)))
    return OAuth2(
        "client-id",
        "client-secret-revoke",
        "http://127.0.0.1:8080/",
        env_key="REVOKE_TOKEN",
        cache_path=None,
        host=server.url,
        interactive=False,
        timeout=(1, 1),
    )


def test_a_revocation_endpoint_that_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    with _hostile_revocation(lambda conn, request: conn.hold()) as server:
        oauth = _env_client(server, monkeypatch)
        with pytest.raises(RevocationFailed) as caught:
            oauth.revoke()
    message = str(caught.value)
    assert "did not answer in time; the token may or may not be revoked" in message
    assert oauth.token_in_memory() == "tok-hostile-revoke"


def test_an_echoing_revocation_endpoint_leaks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def echo(conn: Connection, request: Any) -> None:
        said = {"error": "invalid_request", "error_description": request.raw.decode()}
        conn.respond(400, json.dumps(said).encode(), JSON)

    with _hostile_revocation(echo) as server:
        oauth = _env_client(server, monkeypatch)
        with pytest.raises(RevocationFailed) as caught:
            oauth.revoke()
        (sent,) = [r for r in server.requests if r.target == "/revoke"]
    message = str(caught.value)
    assert "invalid_request" in message
    assert sent.form["token"] == "tok-hostile-revoke"
    for secret in ("tok-hostile-revoke", "client-secret-revoke", sent.headers["authorization"]):
        assert secret not in message
    assert "client-secret-revoke" not in sent.body.decode()  # only in the Basic header


# -- the fake server's revocation endpoint -----------------------------------------------


def test_fake_revocation_endpoint_follows_rfc_7009(fake: FakeTickTick) -> None:
    token = fake.oauth2(cache_path=None).get_access_token()
    fake.register_client("other", "other-secret", ["http://127.0.0.1:8080/"])
    url = f"{fake.url}/oauth/revoke"
    nobody = requests.post(url, data={"token": token}, timeout=5)
    assert nobody.status_code == 401
    other = requests.post(url, data={"token": token}, auth=("other", "other-secret"), timeout=5)
    assert other.status_code == 400
    assert token not in fake.revoked
    auth = (fake.client_id, fake.client_secret)
    unknown = requests.post(url, data={"token": "no-such-token"}, auth=auth, timeout=5)
    assert unknown.status_code == 200  # RFC 7009 2.2: an invalid token is no error
    assert requests.post(url, data={"token": token}, auth=auth, timeout=5).status_code == 200
    assert token in fake.revoked


# -- ticktick-auth logout --revoke -------------------------------------------------------


def _logout(fake: FakeTickTick, cache_path: Path, **env: str) -> Any:
    return run_cli(
        *("logout", "--revoke", "--cache-path", str(cache_path), "--host", fake.url),
        env=clean_env(**env),
    )


def test_cli_logout_revoke(fake: FakeTickTick, cache_path: Path) -> None:
    token = fake.oauth2(cache_path=cache_path).get_access_token()
    result = _logout(fake, cache_path, TICKTICK_CLIENT_SECRET=fake.client_secret)
    assert result.returncode == 0, result.stderr
    assert f"Revoked the token at {fake.url}/oauth/revoke." in result.stdout
    assert "Removed the cached token" in result.stdout
    assert token in fake.revoked
    assert not cache_path.exists()


def test_cli_logout_revoke_without_an_endpoint(cache_path: Path) -> None:
    with FakeTickTick(revocation=False) as fake:
        token = fake.oauth2(cache_path=cache_path).get_access_token()
        result = _logout(fake, cache_path, TICKTICK_CLIENT_SECRET=fake.client_secret)
        assert result.returncode == 0, result.stderr
        assert "Not revoked: " in result.stdout
        assert "advertises no revocation endpoint" in result.stdout
        assert "Removed the cached token" in result.stdout
        assert "Revoked" not in result.stdout
        assert not fake.revoked
        assert _api_status(fake, token) == 200
    assert not cache_path.exists()


def test_cli_a_failed_revocation_keeps_the_token(fake: FakeTickTick, cache_path: Path) -> None:
    token = fake.oauth2(cache_path=cache_path).get_access_token()
    fake.fail("/oauth/revoke", 500)
    result = _logout(fake, cache_path, TICKTICK_CLIENT_SECRET=fake.client_secret)
    assert result.returncode == 1
    assert "failed with HTTP 500" in result.stderr
    assert "The token is still in cache file" in result.stderr
    assert "--revoke' again later" in result.stderr
    assert token in cache_path.read_text()
    assert token not in result.stdout + result.stderr


def test_cli_revoke_needs_the_client_secret(fake: FakeTickTick, cache_path: Path) -> None:
    token = fake.oauth2(cache_path=cache_path).get_access_token()
    result = _logout(fake, cache_path)
    assert result.returncode == 1
    assert "TICKTICK_CLIENT_SECRET" in result.stderr
    assert "Nothing was revoked or removed" in result.stderr
    assert token in cache_path.read_text()
    assert fake.requests_to("/oauth/revoke") == []


def _logout_in_a_terminal(fake: FakeTickTick, cache_path: Path, *extra: str) -> Any:
    argv = ("logout", "--revoke", "--cache-path", str(cache_path), "--host", fake.url)
    return spawn_cli(
        *argv, "--client-id", fake.client_id, *extra, env=clean_env(), cwd=cache_path.parent
    )


def test_cli_the_client_secret_prompt_of_revoke_has_a_timeout(
    fake: FakeTickTick, cache_path: Path
) -> None:
    token = fake.oauth2(cache_path=cache_path).get_access_token()
    child = _logout_in_a_terminal(fake, cache_path, "--timeout", "1")
    child.expect("client_secret")
    child.expect(pexpect.EOF)  # nobody answers: it gives up
    child.close()
    assert child.exitstatus == 1
    said = child.before or ""
    assert "No client secret entered within 1 s (--timeout)" in said
    assert "Nothing was revoked or removed" in said
    assert token in cache_path.read_text()
    assert fake.requests_to("/oauth/revoke") == []


def test_cli_revoke_keeps_a_token_stored_while_it_asked_for_the_secret(
    fake: FakeTickTick, cache_path: Path
) -> None:
    old = fake.oauth2(cache_path=cache_path).get_access_token()
    child = _logout_in_a_terminal(fake, cache_path)
    try:
        child.expect("client_secret")
        # Meanwhile another process of the person signs on again: a new token is stored.
        fresh = fake.oauth2(cache_path=cache_path, resolve=False).authorize()["access_token"]
        child.sendline(fake.client_secret)
        child.expect(pexpect.EOF)
        said = child.before or ""
    finally:
        child.terminate(force=True)
    assert old in fake.revoked  # the token read before the prompt was revoked
    assert fresh not in fake.revoked
    assert "A new token was stored" in said
    assert json.loads(cache_path.read_text())["access_token"] == fresh  # and is kept


def test_revoking_a_token_from_the_environment_says_it_is_still_there(
    fake: FakeTickTick, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = fake.oauth2(cache_path=None).get_access_token()
    monkeypatch.setenv("ACCESS_TOKEN_DICT", json.dumps(token_dict(token)))
    oauth = fake.oauth2(cache_path=None, env_key="ACCESS_TOKEN_DICT")
    assert oauth.get_access_token() == token
    with caplog.at_level(logging.INFO, logger="ticktick"):
        assert oauth.revoke().revoked
    assert "still in the environment variable ACCESS_TOKEN_DICT" in caplog.text
    assert "unset it" in caplog.text
    assert token not in caplog.text
