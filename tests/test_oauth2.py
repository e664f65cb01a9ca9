"""OAuth2 against the fake TickTick server over real HTTP."""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import token_dict, write_cache

from ticktick import (
    DIDA365,
    AccessDenied,
    AuthorizationRequest,
    ConfigurationError,
    InvalidClient,
    InvalidGrant,
    OAuth2,
    OAuthError,
    ReauthorizationRequired,
    StateMismatch,
    TokenExpiryWarning,
    TokenFormatError,
    TransportError,
)
from ticktick.stores import FileStore, MemoryStore, TokenStore
from ticktick.stores.redis import RedisStore
from ticktick.testing import FakeTickTick


def all_secrets(fake: FakeTickTick) -> list[str]:
    codes = [
        value
        for request in fake.requests_to("/oauth/token")
        for key, value in _form(request.body).items()
        if key == "code"
    ]
    return [fake.client_secret, *codes, *fake.issued]


def _form(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body.decode()))


# -- the resolution order ------------------------------------------------------------


def test_fresh_authorization_writes_the_cache(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    token = oauth.get_access_token()
    assert token in fake.issued
    assert oauth.token_source == "authorization"
    assert fake.token_requests == 1
    stored = json.loads(cache_path.read_text())
    assert stored["access_token"] == token
    assert stored["issued_for"]["host"] == fake.url
    assert stored["expire_time"] > time.time() + 100 * 86400


def test_second_client_uses_the_cache_with_no_request(fake: FakeTickTick, cache_path: Path) -> None:
    first = fake.oauth2(cache_path=cache_path).get_access_token()
    before = len(fake.requests)
    second = fake.oauth2(cache_path=cache_path, authorizer=None, interactive=False)
    assert second.get_access_token() == first
    assert second.token_source == f"cache:{cache_path}"
    assert len(fake.requests) == before


def test_memory_is_used_first(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    token = oauth.get_access_token()
    cache_path.unlink()
    os.environ["ACCESS_TOKEN_DICT"] = json.dumps(token_dict("from-env", readable=True))
    assert oauth.get_access_token(check_env="ACCESS_TOKEN_DICT") == token


def test_env_comes_before_cache_and_is_never_cached(
    fake: FakeTickTick, cache_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cache(cache_path, token_dict("cached-token", readable=True), fake.url, fake.client_id)
    cached_bytes = cache_path.read_bytes()
    literal = repr(token_dict("env-token", readable=True))  # a Python literal
    monkeypatch.setenv("ACCESS_TOKEN_DICT", literal)
    oauth = fake.oauth2(cache_path=cache_path, env_key="ACCESS_TOKEN_DICT")
    assert oauth.get_access_token() == "env-token"
    assert oauth.token_source == "env:ACCESS_TOKEN_DICT"
    assert cache_path.read_bytes() == cached_bytes
    assert fake.requests == []


def test_env_token_with_no_cache_file_is_not_written(
    fake: FakeTickTick, cache_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_DICT", json.dumps(token_dict("env-token", readable=True)))
    fake.oauth2(cache_path=cache_path, env_key="ACCESS_TOKEN_DICT").get_access_token()
    assert not cache_path.exists()


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_empty_env_falls_through_to_cache(
    fake: FakeTickTick, cache_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is not None:
        monkeypatch.setenv("ACCESS_TOKEN_DICT", value)
    write_cache(cache_path, token_dict("cached-token", readable=True), fake.url, fake.client_id)
    oauth = fake.oauth2(cache_path=cache_path, env_key="ACCESS_TOKEN_DICT")
    assert oauth.get_access_token() == "cached-token"


def test_no_env_no_cache_means_a_fresh_authorization(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path, env_key="ACCESS_TOKEN_DICT")
    assert oauth.token_source == "authorization"
    assert fake.token_requests == 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("['secret-value-123']", "is a list, not a dict"),
        ("{'token': 'secret-value-123'}", "no 'access_token'"),
        ("{'access_token': 'secret-value-123', 'expire_time': 'never'}", "'expire_time'"),
        ("secret-value-123", "neither JSON nor a Python dict literal"),
    ],
)
def test_malformed_env_is_a_format_error_naming_the_variable(
    fake: FakeTickTick,
    cache_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    problem: str,
) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_DICT", value)
    write_cache(cache_path, token_dict("cached-token", readable=True), fake.url, fake.client_id)
    with pytest.raises(TokenFormatError) as caught:
        fake.oauth2(cache_path=cache_path, env_key="ACCESS_TOKEN_DICT")
    message = str(caught.value)
    assert "ACCESS_TOKEN_DICT" in message
    assert problem in message
    assert "secret-value-123" not in message
    assert isinstance(caught.value, ValueError)  # ticktick-py raised ValueError
    assert fake.requests == []


def test_expired_memory_token_falls_through_to_the_cache(
    fake: FakeTickTick, cache_path: Path
) -> None:
    oauth = fake.oauth2(cache_path=cache_path, resolve=False)
    oauth.access_token_info = token_dict("stale", expire_time=int(time.time()) - 10, readable=True)
    write_cache(
        cache_path,
        token_dict("renewed-by-another-process", readable=True),
        fake.url,
        fake.client_id,
    )
    assert oauth.get_access_token() == "renewed-by-another-process"
    assert fake.token_requests == 0


def test_token_inside_the_margin_counts_as_expired(fake: FakeTickTick, cache_path: Path) -> None:
    nearly = token_dict("nearly", expire_time=int(time.time()) + 30, readable=True)
    write_cache(cache_path, nearly, fake.url, fake.client_id)
    oauth = fake.oauth2(cache_path=cache_path)
    assert oauth.get_access_token() != "nearly"
    assert fake.token_requests == 1
    nearly = token_dict("nearly", expire_time=int(time.time()) + 30, readable=True)
    write_cache(cache_path, nearly, fake.url, fake.client_id)
    with pytest.warns(TokenExpiryWarning):
        relaxed = fake.oauth2(cache_path=cache_path, expiry_margin=10)
    assert relaxed.get_access_token() == "nearly"


def test_check_cache_false_skips_the_cache(fake: FakeTickTick, cache_path: Path) -> None:
    write_cache(cache_path, token_dict("cached-token", readable=True), fake.url, fake.client_id)
    oauth = fake.oauth2(cache_path=cache_path, check_cache=False)
    assert oauth.get_access_token() != "cached-token"
    assert fake.token_requests == 1


def test_foreign_cache_is_ignored_and_kept(fake: FakeTickTick, cache_path: Path) -> None:
    fake.register_client("other-app", "other-secret", ["http://127.0.0.1:8080/"])
    other = fake.oauth2(cache_path=cache_path, client_id="other-app", client_secret="other-secret")
    other_token = other.get_access_token()
    mine = fake.oauth2(cache_path=cache_path)
    assert mine.get_access_token() != other_token
    assert fake.token_requests == 2
    (aside,) = cache_path.parent.glob(".token-oauth.foreign-*")
    assert json.loads(aside.read_text())["access_token"] == other_token


def test_corrupt_cache_is_set_aside_and_a_new_token_fetched(
    fake: FakeTickTick, cache_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache_path.parent.mkdir(parents=True)
    cache_path.write_text('{"access_token": "half-writ')
    with caplog.at_level(logging.WARNING, logger="ticktick"):
        oauth = fake.oauth2(cache_path=cache_path)
    (aside,) = cache_path.parent.glob(".token-oauth.corrupt-*")
    assert aside.read_text() == '{"access_token": "half-writ'
    assert json.loads(cache_path.read_text())["access_token"] == oauth.get_access_token()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_cache_path_none_keeps_the_token_in_memory(fake: FakeTickTick, tmp_path: Path) -> None:
    oauth = fake.oauth2(cache_path=None)
    assert oauth.cache is None
    assert oauth.get_access_token() in fake.issued
    assert list(tmp_path.iterdir()) == []


# -- no terminal, no prompt ---------------------------------------------------------


def test_expired_cache_without_terminal_raises_at_once(
    fake: FakeTickTick, cache_path: Path
) -> None:
    old = token_dict("old", expire_time=int(time.time()) - 5, readable=True)
    write_cache(cache_path, old, fake.url, fake.client_id)
    with pytest.raises(ReauthorizationRequired) as caught:
        fake.oauth2(cache_path=cache_path, authorizer=None)
    message = str(caught.value)
    assert "expired" in message
    assert "standard input is not a terminal" in message
    assert f"ticktick-auth login --client-id {fake.client_id}" in message
    assert f"--cache-path {cache_path}" in message
    assert fake.client_secret not in message
    assert fake.requests == []


def test_expired_env_token_without_terminal_names_the_variable(
    fake: FakeTickTick, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ACCESS_TOKEN_DICT",
        repr(token_dict("env-token-1234", expire_time=1637192935, readable=True)),
    )
    with pytest.raises(ReauthorizationRequired, match="ACCESS_TOKEN_DICT") as caught:
        fake.oauth2(cache_path=None, env_key="ACCESS_TOKEN_DICT", authorizer=None)
    assert "2021" in str(caught.value)


def test_ci_variable_means_no_prompt_even_with_a_terminal(
    fake: FakeTickTick, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    with pytest.raises(ReauthorizationRequired, match="CI environment variable"):
        fake.oauth2(cache_path=None, authorizer=None)


def test_interactive_false_never_calls_the_authorizer(fake: FakeTickTick) -> None:
    called: list[AuthorizationRequest] = []

    def authorizer(request: AuthorizationRequest) -> str:
        called.append(request)
        return "never"

    with pytest.raises(ReauthorizationRequired, match="interactive=False"):
        fake.oauth2(cache_path=None, authorizer=authorizer, interactive=False)
    assert called == []


# -- the authorization request and the exchange -------------------------------------


def test_authorize_url_and_token_request_follow_the_spec(fake: FakeTickTick) -> None:
    seen: list[AuthorizationRequest] = []
    approve = fake.approver()

    def authorizer(request: AuthorizationRequest) -> str:
        seen.append(request)
        return approve(request)

    fake.oauth2(cache_path=None, authorizer=authorizer)
    (request,) = seen
    assert request.url.startswith(f"{fake.url}/oauth/authorize?")
    assert "response_type=code" in request.url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F" in request.url
    assert len(request.state) >= 32
    assert request.state != "None"
    (token_request,) = fake.requests_to("/oauth/token")
    assert token_request.query == ""
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = _form(token_request.body)
    # PKCE is on by default: the verifier of the request's challenge (tests/test_pkce.py).
    assert set(form) == {"code", "grant_type", "scope", "redirect_uri", "code_verifier"}
    assert form["code_verifier"] == request.code_verifier
    assert form["grant_type"] == "authorization_code"
    expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"


def test_state_is_new_for_each_authorization(fake: FakeTickTick) -> None:
    states: list[str] = []
    approve = fake.approver()

    def authorizer(request: AuthorizationRequest) -> str:
        states.append(request.state)
        return approve(request)

    oauth = fake.oauth2(cache_path=None, authorizer=authorizer)
    oauth.forget_token()
    oauth.get_access_token()
    assert len(set(states)) == 2


def test_state_mismatch_is_rejected(fake: FakeTickTick) -> None:
    approve = fake.approver()

    def forged(request: AuthorizationRequest) -> str:
        other = AuthorizationRequest(
            url=request.url.replace(request.state, "attacker-state"),
            state="attacker-state",
            redirect_uri=request.redirect_uri,
        )
        # A redirect made for another state arrives; parse it against ours.
        code = approve(other)
        from ticktick import parse_redirect

        return parse_redirect(
            f"{request.redirect_uri}?code={code}&state=attacker-state", request.state
        )

    with pytest.raises(StateMismatch):
        fake.oauth2(cache_path=None, authorizer=forged)
    assert fake.token_requests == 0


def test_access_denied(fake: FakeTickTick) -> None:
    with pytest.raises(AccessDenied) as caught:
        fake.oauth2(cache_path=None, authorizer=fake.approver("deny"))
    assert caught.value.error == "access_denied"
    assert fake.token_requests == 0


def test_client_secret_never_in_a_url(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None)
    oauth.forget_token()
    oauth.get_access_token()
    assert fake.requests
    for request in fake.requests:
        for secret in all_secrets(fake):
            assert secret not in request.target
    assert fake.client_secret not in repr(oauth)
    assert oauth.get_access_token() not in repr(oauth)
    assert oauth.get_access_token() not in repr(oauth.access_token_info)


def test_503_with_retry_after_is_retried(fake: FakeTickTick) -> None:
    fake.fail("/oauth/token", 503, headers={"Retry-After": "1"})
    oauth = fake.oauth2(cache_path=None)
    assert oauth.get_access_token() in fake.issued
    assert fake.token_requests == 2


def test_invalid_grant_is_not_retried_and_reported(fake: FakeTickTick) -> None:
    def stale_code(request: AuthorizationRequest) -> str:
        return "code-that-was-never-issued"

    with pytest.raises(InvalidGrant) as caught:
        fake.oauth2(cache_path=None, authorizer=stale_code)
    error = caught.value
    assert fake.token_requests == 1
    assert error.status == 400
    assert error.error == "invalid_grant"
    assert "Invalid authorization code" in str(error)
    assert "HTTP 400" in str(error)
    assert "code-that-was-never-issued" not in str(error)  # the server echoed it; we do not


def test_redirect_uri_mismatch_says_what_to_fix(fake: FakeTickTick) -> None:
    approve = fake.approver()

    def wrong_redirect(request: AuthorizationRequest) -> str:
        return approve(request)

    oauth = fake.oauth2(cache_path=None, authorizer=wrong_redirect, resolve=False)
    oauth._redirect_uri = "http://127.0.0.1:8080"  # registered with a slash; TickTick is exact
    with pytest.raises(OAuthError, match="redirect"):
        oauth.get_access_token()


def test_connection_drop_after_the_request_sends_the_code_once(fake: FakeTickTick) -> None:
    fake.fail("/oauth/token", drop=True)
    with pytest.raises(TransportError, match="may have been used") as caught:
        fake.oauth2(cache_path=None)
    assert fake.token_requests == 1
    assert fake.client_secret not in str(caught.value)


def test_connect_refused_is_a_transport_error() -> None:
    with FakeTickTick() as gone:
        url = gone.url
    oauth = OAuth2(
        "id",
        "secret",
        "http://127.0.0.1:8080/",
        host=url,
        cache_path=None,
        authorizer=lambda request: "some-code",
        resolve=False,
    )
    with pytest.raises(TransportError, match="Could not connect"):
        oauth.get_access_token()


def test_read_timeout_is_a_transport_error(fake: FakeTickTick) -> None:
    fake.fail("/oauth/token", delay=2.0, status=200)
    with pytest.raises(TransportError, match="did not answer in time"):
        fake.oauth2(cache_path=None, timeout=(2.0, 0.3))


def test_html_401_is_reported_cleanly(fake: FakeTickTick) -> None:
    page = (
        "<!doctype html><html><head><title>HTTP Status 401 – Unauthorized</title>"
        "<style>body {font-family: Tahoma}</style></head><body><h1>HTTP Status 401 – "
        "Unauthorized</h1><hr><p><b>Type</b> Status Report</p></body></html>"
    )
    fake.fail("/oauth/token", 401, body=page, content_type="text/html;charset=utf-8")
    with pytest.raises(InvalidClient) as caught:
        fake.oauth2(cache_path=None)
    message = str(caught.value)
    assert "HTTP 401" in message
    assert "HTTP Status 401 – Unauthorized" in message
    assert "<" not in message
    assert "Tahoma" not in message
    assert len(message) < 600
    assert "client id and client secret" in message


def test_wrong_client_secret(fake: FakeTickTick) -> None:
    with pytest.raises(InvalidClient) as caught:
        fake.oauth2(cache_path=None, client_secret="wrong-secret-value")
    assert caught.value.status == 401
    assert "wrong-secret-value" not in str(caught.value)


def test_200_that_is_not_a_token(fake: FakeTickTick) -> None:
    fake.fail("/oauth/token", 200, body="<html>Welcome</html>", content_type="text/html")
    with pytest.raises(TokenFormatError, match="not a JSON object"):
        fake.oauth2(cache_path=None)
    fake.fail("/oauth/token", 200, body='{"token_type": "bearer"}')
    with pytest.raises(TokenFormatError, match="expires_in"):
        fake.oauth2(cache_path=None)


def test_huge_answer_is_refused(fake: FakeTickTick) -> None:
    fake.fail("/oauth/token", 500, body="x" * (2 * 1024 * 1024), content_type="text/plain")
    with pytest.raises(TokenFormatError, match="larger than"):
        fake.oauth2(cache_path=None)


# -- threads ------------------------------------------------------------------------


def test_sixteen_threads_cause_one_token_request(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path, resolve=False)
    barrier = threading.Barrier(16)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        results.append(oauth.get_access_token())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 16
    assert len(set(results)) == 1
    assert fake.token_requests == 1


# -- the rest of the public surface -------------------------------------------------


def test_ticktick_py_constructor_positional_arguments(fake: FakeTickTick, tmp_path: Path) -> None:
    session = requests.Session()
    oauth = OAuth2(
        fake.client_id,
        fake.client_secret,
        "http://127.0.0.1:8080/",
        "tasks:write tasks:read",
        None,
        session,
        None,
        str(tmp_path / ".token-oauth"),
        True,
        host=fake.url,
        authorizer=fake.approver(),
    )
    assert oauth.session is session
    assert oauth.cache is not None
    assert oauth.cache.get_cached_token() == oauth.access_token_info
    assert oauth.access_token_info is not None
    assert oauth.access_token_info["access_token"] in fake.issued


def test_validate_token(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, resolve=False)
    assert oauth.validate_token(None) is None
    fresh = token_dict("fresh", readable=True)
    assert oauth.validate_token(fresh) == fresh
    renewed = oauth.validate_token(token_dict("old", expire_time=1, readable=True))
    assert renewed is not None
    assert renewed["access_token"] in fake.issued
    with pytest.raises(TokenFormatError):
        oauth.validate_token({"no": "token"})


def test_is_token_expired_keeps_ticktick_py_meaning() -> None:
    now = int(time.time())
    assert OAuth2.is_token_expired({"expire_time": now + 30})
    assert not OAuth2.is_token_expired({"expire_time": now + 3600})
    assert not OAuth2.is_token_expired({"access_token": "expiry unknown"})


def test_access_token_info_setter(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, resolve=False)
    oauth.access_token_info = token_dict("set-by-hand", readable=True)
    assert oauth.get_access_token() == "set-by-hand"
    with pytest.raises(TokenFormatError):
        oauth.access_token_info = {"access_token": None}
    oauth.access_token_info = None
    assert oauth.access_token_info is None


def test_dida365_urls() -> None:
    oauth = OAuth2(
        "id", "secret", "http://127.0.0.1:8080/", host="dida365.com", cache_path=None, resolve=False
    )
    assert oauth.endpoints == DIDA365
    assert oauth.authorize_url.startswith("https://dida365.com/oauth/authorize?")
    assert oauth.identity.host == "dida365.com"


def test_repr_without_token() -> None:
    oauth = OAuth2("id", "top-secret", "http://127.0.0.1:8080/", cache_path=None, resolve=False)
    assert "token=none" in repr(oauth)
    assert "top-secret" not in repr(oauth)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client_id": ""}, "client_id is empty"),
        ({"client_secret": " "}, "client_secret is empty"),
        ({"redirect_uri": "127.0.0.1:8080"}, "redirect_uri"),
        ({"scope": " "}, "scope is empty"),
        ({"host": "ticktick.cn"}, "Unknown host"),
        ({"host": "http://api.example.org"}, "plain-HTTP"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    settings: dict[str, Any] = {
        "client_id": "id",
        "client_secret": "secret",
        "redirect_uri": "http://127.0.0.1:8080/",
        "cache_path": None,
        "resolve": False,
        **kwargs,
    }
    with pytest.raises(ConfigurationError, match=match):
        OAuth2(**settings)


# -- near expiry, login command, forced authorization ---------------------------------


def test_near_expiry_warns_once(
    fake: FakeTickTick,
    cache_path: Path,
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
) -> None:
    soon = token_dict("soon", expire_time=int(time.time()) + 5 * 86400, readable=True)
    write_cache(cache_path, soon, fake.url, fake.client_id)
    oauth = fake.oauth2(cache_path=cache_path, resolve=False)
    assert oauth.get_access_token() == "soon"
    oauth.forget_token()
    assert oauth.get_access_token() == "soon"  # the same token again: no second warning
    (warning,) = [w for w in recwarn if issubclass(w.category, TokenExpiryWarning)]
    message = str(warning.message)
    assert "(5.0 days left)" in message
    assert "ticktick-auth login" in message
    assert "'soon'" not in message
    assert len([r for r in caplog.records if "days left" in r.getMessage()]) == 1


def test_near_expiry_threshold_is_configurable(
    fake: FakeTickTick, cache_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    soon = token_dict("soon", expire_time=int(time.time()) + 5 * 86400, readable=True)
    write_cache(cache_path, soon, fake.url, fake.client_id)
    fake.oauth2(cache_path=cache_path, expiry_warning_days=3).get_access_token()
    assert not [w for w in recwarn if issubclass(w.category, TokenExpiryWarning)]


def test_near_expiry_of_an_env_token_says_to_update_the_variable(
    fake: FakeTickTick, monkeypatch: pytest.MonkeyPatch
) -> None:
    soon = token_dict("soon", expire_time=int(time.time()) + 86400, readable=True)
    monkeypatch.setenv("ACCESS_TOKEN_DICT", repr(soon))
    with pytest.warns(TokenExpiryWarning, match="set ACCESS_TOKEN_DICT to the value it prints"):
        fake.oauth2(cache_path=None, env_key="ACCESS_TOKEN_DICT")


def test_login_command() -> None:
    plain = OAuth2("my id", "s", "http://127.0.0.1:8080/", resolve=False)
    # --host and --cache-path are named even as defaults: TICKTICK_HOST and
    # TICKTICK_CACHE_PATH where it is run cannot redirect the command.
    assert plain.login_command() == (
        "ticktick-auth login --client-id 'my id' --host ticktick.com --redirect-uri "
        f"http://127.0.0.1:8080/ --cache-path {os.path.abspath('.token-oauth')}"
    )
    dida = OAuth2(
        "id", "s", "http://127.0.0.1:8080/", host="dida365.com", cache_path=None, resolve=False
    )
    assert "--host dida365.com" in dida.login_command()
    assert dida.login_command().endswith("--no-cache --output env-dict")


def test_authorize_forces_a_new_token(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    first = oauth.get_access_token()
    renewed = oauth.authorize()
    assert renewed["access_token"] != first
    assert oauth.get_access_token() == renewed["access_token"]
    assert json.loads(cache_path.read_text())["access_token"] == renewed["access_token"]
    assert fake.token_requests == 2


# -- the store given, and arguments that overlap ---------------------------------------


def test_a_store_is_bound_to_its_first_app_and_refused_to_another(fake: FakeTickTick) -> None:
    fake.register_client("other-app", "other-secret", ["http://127.0.0.1:8080/"])
    store = MemoryStore()
    first = fake.oauth2(store=store)
    assert first.cache is store
    assert store.identity == first.identity
    with pytest.raises(ConfigurationError, match="The store is for") as refused:
        fake.oauth2(
            store=store,
            client_id="other-app",
            client_secret="other-secret",
            redirect_uri="http://127.0.0.1:8080/",
            resolve=False,
        )
    assert "its own store" in str(refused.value)
    # The first app's token is still there for its next client.
    same_app = fake.oauth2(store=store, authorizer=None, interactive=False)
    assert same_app.get_access_token() == first.get_access_token()
    assert same_app.token_source == "cache:memory"
    assert fake.token_requests == 1


def test_a_store_bound_to_this_client_is_used_as_it_is(fake: FakeTickTick) -> None:
    identity = fake.oauth2(cache_path=None, resolve=False).identity
    store = MemoryStore(identity=identity)
    assert fake.oauth2(store=store, resolve=False).cache is store


@pytest.mark.parametrize("cache_path", ["elsewhere/.token-oauth", Path("elsewhere")])
def test_store_and_a_cache_path_contradict(cache_path: str | Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        OAuth2("id", "s", "http://127.0.0.1:8080/", cache_path=cache_path, store=MemoryStore())
    message = str(raised.value)
    assert "store= (a MemoryStore)" in message
    assert f"cache_path={os.fspath(cache_path)!r}" in message


@pytest.mark.parametrize("cache_path", [None, ".token-oauth"])
def test_store_with_no_or_the_default_cache_path_is_accepted(cache_path: str | None) -> None:
    oauth = OAuth2(
        "id",
        "s",
        "http://127.0.0.1:8080/",
        cache_path=cache_path,
        store=MemoryStore(),
        resolve=False,
    )
    assert isinstance(oauth.cache, MemoryStore)


def test_check_cache_false_without_resolve_contradicts() -> None:
    with pytest.raises(ConfigurationError, match=r"check_cache=False and resolve=False"):
        OAuth2("id", "s", "http://127.0.0.1:8080/", check_cache=False, resolve=False)


def test_login_command_asks_the_store_interface_only(tmp_path: Path) -> None:
    class ReachableMemory(MemoryStore):
        def cli_options(self) -> list[str] | None:
            return ["--store", "keyring"]

    class UnreachableFile(FileStore):
        def cli_options(self) -> list[str] | None:
            return None

    def login(store: TokenStore) -> str:
        return OAuth2(
            "id", "s", "http://127.0.0.1:8080/", store=store, resolve=False
        ).login_command()

    assert login(ReachableMemory()).endswith("--store keyring")
    assert login(UnreachableFile(tmp_path / "t")).endswith("--no-cache --output env-dict")
    assert login(MemoryStore()).endswith("--no-cache --output env-dict")
    assert login(FileStore("rel/t")).endswith(f"--cache-path {os.path.abspath('rel/t')}")
    redis = "redis://127.0.0.1:1/0"  # never connected: the command needs no server
    assert login(RedisStore(redis)).endswith(f"--store redis --redis-url {redis}")
    # ticktick-auth has no option for another key prefix: it cannot reach that store.
    assert login(RedisStore(redis, prefix="mine")).endswith("--no-cache --output env-dict")


class Registered(type):
    """A metaclass of the user's own (plugin registries and ORMs use one)."""


class Plugin(metaclass=Registered):
    pass


def test_oauth2_mixes_with_a_class_that_has_a_metaclass_of_its_own() -> None:
    class MyAuth(OAuth2, Plugin):
        pass

    assert issubclass(MyAuth, OAuth2)
    assert type(OAuth2) is type


@pytest.mark.parametrize("cache_path", ["./.token-oauth", ""])
def test_store_with_the_default_cache_path_spelled_otherwise_is_accepted(cache_path: str) -> None:
    store = MemoryStore()
    oauth = OAuth2(
        "id", "s", "http://127.0.0.1:8080/", cache_path=cache_path, store=store, resolve=False
    )
    assert oauth.cache is store
