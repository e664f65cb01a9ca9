"""Faults at the token endpoint and the API: each ends in its typed error (or a retry where
safe), never writes a bad token, never leaves a partial file, never sends the code twice."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from ticktick import (
    ApiError,
    OAuthError,
    OpenAPI,
    RateLimited,
    TickTickError,
    TokenFormatError,
    TransportError,
    requests_retry_session,
)
from ticktick.testing import FakeTickTick

ERROR_STATUSES = [
    400,
    401,
    403,
    404,
    405,
    408,
    409,
    410,
    413,
    415,
    422,
    429,
    500,
    501,
    502,
    503,
    504,
]
BODIES: dict[str, tuple[str, str]] = {
    "oauth-json": (
        '{"error": "server_error", "error_description": "Try later"}',
        "application/json",
    ),
    "html": ("<html><body><h1>HTTP Status</h1><p>Apache Tomcat</p></body></html>", "text/html"),
    "empty": ("", "text/plain"),
    "wrong-shape": ('["not", "an", "error"]', "application/json"),
}


def codes_sent(fake: FakeTickTick) -> list[str]:
    from urllib.parse import parse_qsl

    return [dict(parse_qsl(r.body.decode()))["code"] for r in fake.requests_to("/oauth/token")]


@pytest.mark.parametrize("status", ERROR_STATUSES)
@pytest.mark.parametrize("body", list(BODIES))
def test_token_endpoint_error_statuses(
    fake: FakeTickTick, cache_path: Path, status: int, body: str
) -> None:
    text, content_type = BODIES[body]
    fake.fail("/oauth/token", status, body=text, content_type=content_type, times=10)
    with pytest.raises(OAuthError) as caught:
        fake.oauth2(cache_path=cache_path)
    error = caught.value
    assert error.status == status
    assert f"HTTP {status}" in str(error)
    retried = status in (429, 503)  # the server says it did not process the request
    assert fake.token_requests == (3 if retried else 1)
    sent = codes_sent(fake)
    assert len(set(sent)) == 1  # one code, resent only where the server refused to use it
    assert sent[0] not in str(error)
    assert fake.client_secret not in str(error)
    assert not cache_path.exists()  # nothing written
    assert not cache_path.parent.exists() or list(cache_path.parent.iterdir()) in (
        [],
        [cache_path.parent / ".token-oauth.lock"],
    )


def test_429_with_and_without_retry_after(fake: FakeTickTick) -> None:
    fake.fail("/oauth/token", 429, headers={"Retry-After": "1"})
    started = time.monotonic()
    assert fake.oauth2(cache_path=None).get_access_token() in fake.issued
    assert time.monotonic() - started >= 1.0  # it waited as asked
    fake.fail("/oauth/token", 429)
    assert fake.oauth2(cache_path=None).get_access_token() in fake.issued
    assert fake.token_requests == 4


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        ({"drop": True}, TransportError, "may have been used"),
        (
            {"status": 200, "truncate": True, "body": '{"access_token": "abc", "expires_in": 99}'},
            TransportError,
            "after the code was sent",
        ),
        (
            {"status": 200, "trickle": 0.05, "body": "x" * 2000},
            TransportError,
            "did not answer in time",
        ),
        ({"status": 200, "delay": 3}, TransportError, "did not answer in time"),
        (
            {"status": 200, "body": "<html>OK</html>", "content_type": "text/html"},
            TokenFormatError,
            "not a JSON object",
        ),
        ({"status": 200, "body": '{"access_token": "abc"}'}, TokenFormatError, "expires_in"),
        (
            {"status": 200, "body": '{"access_token": "", "expires_in": 5}'},
            TokenFormatError,
            "access_token",
        ),
        (
            {"status": 200, "body": '{"access_token": "a", "expires_in": 5, "token_type": "mac"}'},
            TokenFormatError,
            "token_type",
        ),
        (
            {"status": 200, "body": '{"access_token": "abc", "expires_in": 99'},
            TokenFormatError,
            "not a JSON object",
        ),
        ({"status": 200, "body": "[" * 100_000}, TokenFormatError, "not a JSON object"),
        ({"status": 200, "body": "x" * (3 * 1024 * 1024)}, TokenFormatError, "larger than"),
        ({"status": 500, "body": "x" * (3 * 1024 * 1024)}, TokenFormatError, "larger than"),
    ],
)
def test_token_endpoint_transport_and_shape_faults(
    fake: FakeTickTick,
    cache_path: Path,
    fault: dict[str, Any],
    error: type[TickTickError],
    match: str,
) -> None:
    fake.fail("/oauth/token", **fault)
    started = time.monotonic()
    with pytest.raises(error, match=match) as caught:
        fake.oauth2(cache_path=cache_path, timeout=(2.0, 1.0))
    assert time.monotonic() - started < 10  # bounded by the timeout, not by the server
    assert fake.token_requests == 1  # the code is never sent twice
    assert codes_sent(fake)[0] not in str(caught.value)
    assert not cache_path.exists()


# -- the Open API ---------------------------------------------------------------------


@pytest.fixture
def api(fake: FakeTickTick) -> OpenAPI:
    return OpenAPI(
        fake.oauth2(
            cache_path=None, session=requests_retry_session(backoff_factor=0), timeout=(2.0, 1.0)
        )
    )


@pytest.mark.parametrize("status", ERROR_STATUSES)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_api_error_statuses(api: OpenAPI, fake: FakeTickTick, status: int, method: str) -> None:
    api.oauth.get_access_token()
    fake.fail("/open/v1/project", status, body='{"errorCode": "oops"}', times=10)
    call = api.list_projects if method == "GET" else functools.partial(api.create_project, "x")
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.status == status
    calls = [r for r in fake.requests_to("/open/v1/project")]
    retried_get = method == "GET" and status in (429, 500, 502, 503, 504)
    renewed = status == 401  # one re-resolution and one resend
    assert len(calls) == (4 if retried_get else 2 if renewed else 1)
    if status == 429:
        assert isinstance(caught.value, RateLimited)


API_FAULTS: list[tuple[dict[str, Any], str]] = [
    ({"status": 200, "truncate": True, "body": '[{"id": "1", "name": "x"}]'}, "broke off"),
    ({"status": 200, "trickle": 0.05, "body": "[" + " " * 2000 + "]"}, "did not answer in time"),
    ({"status": 200, "body": "x" * (17 * 1024 * 1024)}, "more than"),
    (
        {"status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"},
        "not JSON",
    ),
    ({"drop": True}, "may have been applied"),  # the POST went out: it may have worked
]
"""Faults of an Open API answer to a POST, and what the error says (also for test_aio)."""


@pytest.mark.parametrize(("fault", "match"), API_FAULTS)
def test_api_transport_and_shape_faults(
    api: OpenAPI, fake: FakeTickTick, fault: dict[str, Any], match: str
) -> None:
    api.oauth.get_access_token()
    fake.fail("/open/v1/project", **fault, times=1)
    started = time.monotonic()
    with pytest.raises(TickTickError, match=match):
        api.create_project("x")  # a POST: never resent
    assert time.monotonic() - started < 10
    assert len(fake.requests_to("/open/v1/project")) == 1


def test_a_cache_is_never_left_partial_by_a_failed_exchange(
    fake: FakeTickTick, cache_path: Path
) -> None:
    first = fake.oauth2(cache_path=cache_path).get_access_token()
    before = cache_path.read_bytes()
    oauth = fake.oauth2(cache_path=cache_path, resolve=False)
    for fault in ({"drop": True}, {"status": 200, "body": "[]"}, {"status": 502}):
        fake.fail("/oauth/token", **fault)
        with pytest.raises(TickTickError):
            oauth.authorize()
        assert cache_path.read_bytes() == before
    assert json.loads(before)["access_token"] == first
