"""PKCE (RFC 7636, S256) on every authorization, against the fake TickTick over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from helpers import (
    free_port,
    scripted_login,
)
from hostile import Connection, HostileServer

from ticktick import AuthorizationRequest, InvalidGrant, OAuth2, OAuthError
from ticktick.signon import code_challenge, new_code_verifier
from ticktick.testing import FakeTickTick
from ticktick.testing.server import approve

UNRESERVED = re.compile(r"[A-Za-z0-9._~-]{43,128}")
REDIRECT = "http://127.0.0.1:8080/"  # the fake's default registered redirect URI


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode()))


def _token_forms(fake: FakeTickTick) -> list[dict[str, str]]:
    return [_form(request.body) for request in fake.requests_to("/oauth/token")]


def _consent_forms(fake: FakeTickTick) -> list[dict[str, str]]:
    """What the approver posted to the consent page: the authorize URL's parameters."""
    return [
        _form(request.body)
        for request in fake.requests_to("/oauth/authorize")
        if request.method == "POST"
    ]


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_pkce_is_sent_and_verified(fake: FakeTickTick) -> None:
    token = fake.oauth2(cache_path=None).get_access_token()
    assert token in fake.issued
    (authorize,) = _consent_forms(fake)
    (exchange,) = _token_forms(fake)
    verifier = exchange["code_verifier"]
    assert UNRESERVED.fullmatch(verifier)
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["code_challenge"] == _s256(verifier)  # S256 of the verifier = challenge
    assert verifier not in authorize.values()
    # The verifier travels only in the token request's body: never in a URL.
    assert all(verifier not in request.target for request in fake.requests)


def test_each_authorization_has_a_fresh_verifier(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, resolve=False)
    oauth.authorize()
    oauth.authorize()
    verifiers = [form["code_verifier"] for form in _token_forms(fake)]
    assert len(set(verifiers)) == 2
    challenges = {form["code_challenge"] for form in _consent_forms(fake)}
    assert len(challenges) == 2


def test_the_library_makes_verifiers_as_rfc_7636_asks() -> None:
    verifiers = {new_code_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(UNRESERVED.fullmatch(verifier) for verifier in verifiers)
    # RFC 7636 appendix B's example.
    example = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(example) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def _swap_challenge(request: AuthorizationRequest) -> str:
    """A sign-on whose authorize URL carries another verifier's challenge."""
    parts = urlsplit(request.url)
    params = dict(parse_qsl(parts.query))
    params["code_challenge"] = code_challenge(new_code_verifier())
    url = parts._replace(query=urlencode(params)).geturl()
    return approve(AuthorizationRequest(url, request.state, request.redirect_uri))


def test_a_wrong_verifier_is_refused_and_pkce_false_is_suggested(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, resolve=False, authorizer=_swap_challenge)
    with pytest.raises(InvalidGrant) as caught:
        oauth.get_access_token()
    message = str(caught.value)
    assert caught.value.status == 400
    assert "PKCE verification failed" in message
    assert "pkce=False" in message
    assert not fake.issued
    (form,) = _token_forms(fake)
    assert form["code_verifier"] not in message


def test_a_missing_verifier_is_refused(fake: FakeTickTick) -> None:
    verifier = new_code_verifier()
    params = {
        "client_id": fake.client_id,
        "redirect_uri": REDIRECT,
        "scope": "tasks:read",
        "response_type": "code",
        "state": "s",
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    url = f"{fake.url}/oauth/authorize?{urlencode(params)}"
    code = approve(AuthorizationRequest(url, "s", params["redirect_uri"]))
    answer = requests.post(
        f"{fake.url}/oauth/token",
        data={
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": params["redirect_uri"],
        },
        auth=(fake.client_id, fake.client_secret),
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert "missing" in answer.json()["error_description"]


def test_an_unknown_challenge_method_is_refused_at_the_authorize_step(
    fake: FakeTickTick,
) -> None:
    params = {
        "client_id": fake.client_id,
        "redirect_uri": "http://127.0.0.1:8080/",
        "response_type": "code",
        "state": "s",
        "code_challenge": code_challenge(new_code_verifier()),
        "code_challenge_method": "S512",
    }
    answer = requests.get(
        f"{fake.url}/oauth/authorize", params=params, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302
    assert "error=invalid_request" in answer.headers["Location"]


def test_pkce_false_sends_neither_challenge_nor_verifier(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, pkce=False)
    assert oauth.get_access_token() in fake.issued
    (authorize,) = _consent_forms(fake)
    (exchange,) = _token_forms(fake)
    assert "code_challenge" not in authorize
    assert "code_challenge_method" not in authorize
    assert "code_verifier" not in exchange
    assert "code_challenge" not in oauth.authorize_url


def test_a_server_that_ignores_pkce_still_signs_on() -> None:
    with FakeTickTick(ignore_pkce=True) as fake:
        oauth = fake.oauth2(cache_path=None)
        assert oauth.get_access_token() in fake.issued
        assert "code_verifier" in _token_forms(fake)[0]  # sent, and ignored
        assert "code_challenge_methods_supported" not in fake.metadata_document()
        # Even a verifier of another challenge passes: the server does not check.
        other = fake.oauth2(cache_path=None, resolve=False, authorizer=_swap_challenge)
        assert other.get_access_token() in fake.issued


def test_ticktick_py_flow_exchanges_the_verifier_of_the_last_url(fake: FakeTickTick) -> None:
    """ticktick-py reads `authorize_url`, has the person sign on, and calls exchange_code."""
    oauth = fake.oauth2(cache_path=None, resolve=False)
    url = oauth.authorize_url
    assert "code_challenge_method=S256" in url
    code = approve(AuthorizationRequest(f"{url}&state=s", "s", REDIRECT))
    token = oauth.exchange_code(code)
    assert token["access_token"] in fake.issued
    # A URL read earlier than the last one no longer matches the verifier kept.
    first = oauth.authorize_url
    assert oauth.authorize_url != first
    code = approve(AuthorizationRequest(f"{first}&state=s", "s", REDIRECT))
    with pytest.raises(InvalidGrant, match="pkce=False"):
        oauth.exchange_code(code)


def _sign_on_to(url: str) -> str:
    """The person signs on at an `authorize_url` (no ``state``); returns the code."""
    return approve(AuthorizationRequest(f"{url}&state=s", "s", REDIRECT))


def test_exchange_code_again_after_a_busy_server(fake: FakeTickTick) -> None:
    """A 503 before the code was used: ticktick-py's retry of exchange_code works."""
    oauth = fake.oauth2(cache_path=None, resolve=False)
    code = _sign_on_to(oauth.authorize_url)
    fake.fail("/oauth/token", 503, times=3)
    with pytest.raises(OAuthError):
        oauth.exchange_code(code)
    token = oauth.exchange_code(code)
    assert token["access_token"] in fake.issued
    verifiers = [form.get("code_verifier") for form in _token_forms(fake)]
    assert verifiers[-1] is not None
    assert set(verifiers) == {verifiers[-1]}  # the same verifier, every time


def test_exchange_code_with_the_whole_code_after_a_mistyped_one(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, resolve=False)
    code = _sign_on_to(oauth.authorize_url)
    with pytest.raises(InvalidGrant) as caught:
        oauth.exchange_code(code[:-1])  # the paste lost a character
    assert "pkce" not in str(caught.value).lower()  # a mistyped code is no PKCE problem
    token = oauth.exchange_code(code)  # pasted again, whole
    assert token["access_token"] in fake.issued
    # Used: the verifier is gone, and a spent code gets no PKCE advice either.
    with pytest.raises(InvalidGrant) as caught:
        oauth.exchange_code(code)
    assert "pkce" not in str(caught.value).lower()


def test_a_retry_with_a_verifier_sent_before_gets_no_pkce_hint(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, resolve=False)
    earlier = oauth.authorize_url
    code = _sign_on_to(oauth.authorize_url)
    with pytest.raises(InvalidGrant, match="pkce=False"):
        oauth.exchange_code(_sign_on_to(earlier))  # another URL's code: PKCE refuses
    # The code of the right URL still works after that failure...
    assert oauth.exchange_code(code)["access_token"] in fake.issued
    oauth.authorize_url  # noqa: B018 - a new URL, a new verifier
    fake.fail("/oauth/token", 400, body='{"error": "invalid_grant"}', times=2)
    with pytest.raises(InvalidGrant, match="pkce=False"):
        oauth.exchange_code("some-code")  # the server says nothing that tells
    with pytest.raises(InvalidGrant) as caught:
        oauth.exchange_code("some-code")  # a retry: its verifier was sent before
    assert "pkce=False" not in str(caught.value)


def test_the_verifier_never_shows_in_a_repr() -> None:
    verifier = new_code_verifier()
    request = AuthorizationRequest("https://x/", "state", "http://127.0.0.1:1/", 5, verifier)
    assert verifier not in repr(request)
    assert "pkce=True" in repr(request)
    assert request != AuthorizationRequest("https://x/", "state", "http://127.0.0.1:1/", 5)


# -- the CLI --------------------------------------------------------------------------

PRINTED = ("--no-cache", "--output", "json")
"""login's flags that print the token rather than keep it."""


def test_cli_login_uses_pkce_and_no_pkce_turns_it_off(tmp_path: Path) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        with_pkce = scripted_login(tmp_path, fake, redirect, *PRINTED)
        without = scripted_login(tmp_path, fake, redirect, *PRINTED, "--no-pkce")
        forms = _token_forms(fake)
    assert with_pkce.returncode == 0, with_pkce.stderr
    assert without.returncode == 0, without.stderr
    assert "code_challenge=" in with_pkce.stderr
    assert "code_challenge" not in without.stderr
    assert ["code_verifier" in form for form in forms] == [True, False]


def test_cli_invalid_grant_after_pkce_suggests_no_pkce(tmp_path: Path) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/"
    with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
        # As a server that takes the challenge but cannot verify it answers.
        fake.fail(
            "/oauth/token",
            400,
            body='{"error": "invalid_grant", "error_description": "Invalid code_verifier"}',
        )
        result = scripted_login(tmp_path, fake, redirect, *PRINTED)
    assert result.returncode == 1
    assert "invalid_grant" in result.stderr
    assert "--no-pkce" in result.stderr
    assert "pkce=False" not in result.stderr


def test_a_token_endpoint_echoing_the_verifier_leaks_nothing() -> None:
    """A hostile token endpoint quotes the whole request back: the verifier is redacted."""

    def handler(conn: Connection) -> None:
        request = conn.read_request()
        said = {"error": "invalid_grant", "error_description": request.raw.decode()}
        conn.respond(400, json.dumps(said).encode(), {"Content-Type": "application/json"})

    def authorizer(request: AuthorizationRequest) -> str:
        seen.append(request)
        return "the-code-1234"

    seen: list[AuthorizationRequest] = []
    with HostileServer(handler) as server:
        oauth = OAuth2(
            "cid",
            "the-secret",
            REDIRECT,
            cache_path=None,
            host=server.url,
            authorizer=authorizer,
            resolve=False,
        )
        with pytest.raises(InvalidGrant) as caught:
            oauth.get_access_token()
        (sent,) = server.requests
    (request,) = seen
    verifier = request.code_verifier
    assert verifier is not None
    assert sent.form["code_verifier"] == verifier
    message = str(caught.value)
    assert "pkce=False" in message
    for secret in (verifier, "the-code-1234", "the-secret"):
        assert secret not in message
