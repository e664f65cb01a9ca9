"""Every Open API answer is a typed error: unknown charsets and unreadable ``Retry-After``.

A raw-socket server (tests/hostile.py) plays the Open API; the real `OpenAPI`, with
a token from the real environment variable, talks to it. Whatever the charset or the
``Retry-After`` header says, the caller gets a value or a `TickTickError` subclass,
never ``LookupError``, ``ValueError`` or ``OverflowError``, and
`RateLimited.retry_after` is ``None`` or finite, at least 0 and at most
`RETRY_AFTER_MAX`.
"""

from __future__ import annotations

import encodings.aliases
import json
import math

import pytest
from helpers import ApiFor
from hostile import Connection, HostileServer, answering

from ticktick import (
    ApiError,
    NotFound,
    RateLimited,
    TickTickError,
)
from ticktick._http.session import RETRY_AFTER_MAX

# -- charsets -------------------------------------------------------------------------

BOGUS_CHARSETS = ["x-bogus", '"x-bogus"', "base64", "hex", "zlib", "rot13", "idna", "undefined"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("charset", BOGUS_CHARSETS)
def test_a_successful_answer_in_an_unknown_charset_is_an_api_error(
    charset: str, api_for: ApiFor
) -> None:
    content_type = f"application/json; charset={charset}"
    server = HostileServer(answering(200, b"[]", {"Content-Type": content_type}, keep_alive=True))
    with server, pytest.raises(ApiError) as caught:
        api_for(server).list_projects()
    assert caught.value.status == 200
    assert "HTTP 200" in str(caught.value)
    assert "charset" in str(caught.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("charset", BOGUS_CHARSETS)
def test_an_error_answer_in_an_unknown_charset_keeps_its_type(
    charset: str, api_for: ApiFor
) -> None:
    headers = {"Content-Type": f"application/json; charset={charset}"}
    body = b'{"errorCode": "task_not_found", "errorMessage": "No such task"}'
    server = HostileServer(answering(404, body, headers, keep_alive=True))
    with server, pytest.raises(NotFound) as caught:
        api_for(server).get_task("p1", "t1")
    assert "task_not_found" in str(caught.value)
    headers["Retry-After"] = "7"
    server = HostileServer(answering(429, b"{}", headers, keep_alive=True))
    with server, pytest.raises(RateLimited) as limited:
        api_for(server).create_task("p1", "title")
    assert limited.value.retry_after == 7


@pytest.mark.timeout(120)
def test_every_codec_name_as_a_charset_gives_a_value_or_a_typed_error(
    api_for: ApiFor,
) -> None:
    names = sorted(set(encodings.aliases.aliases.values()) | {"x-bogus", "base64_codec"})
    current = {"charset": ""}

    def handler(conn: Connection) -> None:
        while True:
            conn.read_request()
            content_type = f"application/json; charset={current['charset']}"
            conn.respond(200, b'[{"id": "p1"}]', {"Content-Type": content_type})

    outcomes: dict[str, str] = {}
    with HostileServer(handler) as server:
        api = api_for(server)
        for name in names:
            current["charset"] = name
            try:
                api.list_projects()
                outcomes[name] = "value"
            except TickTickError as exc:
                outcomes[name] = type(exc).__name__
    assert outcomes["utf_8"] == "value"
    assert outcomes["x-bogus"] == "ApiError"
    assert set(outcomes.values()) <= {"value", "ApiError"}


# -- Retry-After ------------------------------------------------------------------------

FAR_FUTURE = "Fri, 31 Dec 9999 23:59:59 GMT"
UNREADABLE = [
    "soon",
    "1e999",
    "-5",
    "nan",
    "inf",
    "garbage, date",
    "Mon, 99 Oct 2015 07:28:00 GMT",
    "Wed, 21 Oct 99999 07:28:00 GMT",
    "Wed, 21 Oct 2015 07:28:00 +9999",
    "\u00b2",  # a digit to str.isdigit, not to float
    "5, 6",
]
CAPPED = [FAR_FUTURE, "120", "9" * 400]
PAST = [
    "Sun Nov  6 08:49:37 1994",
    "Wed, 21 Oct 2015 07:28:00 -0000",
    "Wed, 21 Oct 2015 07:28:00 GMT",
]


def check_retry_after(value: str, failure: RateLimited) -> None:
    retry_after = failure.retry_after
    if retry_after is not None:
        assert math.isfinite(retry_after)
        assert 0 <= retry_after <= RETRY_AFTER_MAX
    if value in UNREADABLE:
        assert retry_after is None
        assert "wait a minute" in str(failure)
    if value in CAPPED:
        assert retry_after == RETRY_AFTER_MAX
    if value in PAST:
        assert retry_after == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("value", UNREADABLE + CAPPED + PAST)
def test_retry_after_on_a_post_429_is_read_or_ignored(value: str, api_for: ApiFor) -> None:
    headers = {"Content-Type": "application/json", "Retry-After": value}
    server = HostileServer(answering(429, b'{"errorCode": "x"}', headers, keep_alive=True))
    with server, pytest.raises(RateLimited) as caught:
        api_for(server).create_task("inbox", "title")
    assert caught.value.status == 429
    check_retry_after(value, caught.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("value", UNREADABLE + CAPPED + PAST)
def test_retry_after_on_a_200_exceed_query_limit_is_read_or_ignored(
    value: str, api_for: ApiFor
) -> None:
    body = json.dumps({"errorCode": "exceed_query_limit", "errorMessage": "slow down"}).encode()
    headers = {"Content-Type": "application/json", "Retry-After": value}
    server = HostileServer(answering(200, body, headers, keep_alive=True))
    with server, pytest.raises(RateLimited) as caught:
        api_for(server).list_projects()
    assert caught.value.status == 200
    check_retry_after(value, caught.value)


@pytest.mark.timeout(60)
def test_an_unreadable_retry_after_on_a_retried_get_still_ends_rate_limited(
    api_for: ApiFor,
) -> None:
    """The session's retries read ``Retry-After`` with the same rule (and back off)."""
    headers = {"Content-Type": "application/json", "Retry-After": "soon"}
    server = HostileServer(answering(429, b"{}", headers, keep_alive=True))
    with server, pytest.raises(RateLimited) as caught:
        api_for(server).list_projects()
    assert len(server.requests) > 1  # retried, with the usual backoff
    assert caught.value.retry_after is None
