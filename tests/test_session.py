"""The retrying session against the fake server."""

from __future__ import annotations

import pytest
import requests

from ticktick import requests_retry_session
from ticktick._http.session import RETRY_AFTER_MAX, TimeoutHTTPAdapter, token_retry
from ticktick.testing import FakeTickTick


def test_get_is_retried_on_503_with_retry_after(fake: FakeTickTick) -> None:
    fake.fail("/anything", 503, headers={"Retry-After": "1"})
    session = requests_retry_session(backoff_factor=0)
    response = session.get(f"{fake.url}/anything")
    assert response.status_code == 404  # the real answer, after one retry
    assert len(fake.requests_to("/anything")) == 2


def test_post_is_not_retried(fake: FakeTickTick) -> None:
    fake.fail("/open/v1/task", 503, times=3)
    session = requests_retry_session(backoff_factor=0)
    response = session.post(f"{fake.url}/open/v1/task", json={})
    assert response.status_code == 503
    assert len(fake.requests_to("/open/v1/task")) == 1


def test_405_is_not_retried(fake: FakeTickTick) -> None:
    fake.fail("/x", 405, times=3)
    response = requests_retry_session(backoff_factor=0).get(f"{fake.url}/x")
    assert response.status_code == 405
    assert len(fake.requests_to("/x")) == 1


def test_retries_give_up_with_the_last_answer(fake: FakeTickTick) -> None:
    fake.fail("/x", 502, times=10)
    response = requests_retry_session(retries=2, backoff_factor=0).get(f"{fake.url}/x")
    assert response.status_code == 502
    assert len(fake.requests_to("/x")) == 3


def test_default_timeout_applies(fake: FakeTickTick) -> None:
    fake.fail("/slow", 200, delay=1.5)
    session = requests_retry_session(retries=0, timeout=(2, 0.2))
    # requests reports a read timeout after exhausted retries as a ConnectionError.
    with pytest.raises(requests.RequestException, match=r"read timeout=0\.2"):
        session.get(f"{fake.url}/slow")


def test_given_session_is_configured_and_returned() -> None:
    session = requests.Session()
    assert requests_retry_session(session=session) is session


@pytest.mark.parametrize("value", ["100000", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_retry_after_is_capped(value: str) -> None:
    session = requests_retry_session(retry_after_max=5)
    adapter = session.get_adapter("https://x/")
    assert isinstance(adapter, TimeoutHTTPAdapter)
    retry = adapter.max_retries
    assert retry.parse_retry_after(value) == 5
    assert retry.new(total=1).parse_retry_after(value) == 5  # the cap survives each retry
    assert token_retry().parse_retry_after(value) == RETRY_AFTER_MAX


def test_token_retry_never_retries_after_sending() -> None:
    retry = token_retry()
    assert retry.read is False
    assert retry.is_retry("POST", 503, has_retry_after=True)
    assert retry.is_retry("POST", 429)
    for status in (400, 401, 500, 502, 504):
        assert not retry.is_retry("POST", status)
