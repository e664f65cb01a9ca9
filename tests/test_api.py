"""TickTickAuth and the Open API client against the fake server over real HTTP."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from ticktick import (
    ApiError,
    ConfigurationError,
    Forbidden,
    NotFound,
    OAuth2,
    OpenAPI,
    RateLimited,
    ReauthorizationRequired,
    TickTickAuth,
    TransportError,
    Unauthorized,
    requests_retry_session,
)
from ticktick.api import format_date
from ticktick.testing import FakeTickTick


@pytest.fixture
def oauth(fake: FakeTickTick, cache_path: Path) -> OAuth2:
    # No backoff in tests: retried statuses come back at once.
    return fake.oauth2(cache_path=cache_path, session=requests_retry_session(backoff_factor=0))


@pytest.fixture
def api(oauth: OAuth2) -> OpenAPI:
    return OpenAPI(oauth)


def api_requests(fake: FakeTickTick) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith("/open/v1")]


# -- every endpoint ---------------------------------------------------------------------


def test_projects(api: OpenAPI) -> None:
    assert api.list_projects() == []
    created = api.create_project("Work", {"color": "#4772fa", "viewMode": "kanban"})
    assert created["name"] == "Work"
    assert created["viewMode"] == "kanban"
    assert api.get_project(created["id"]) == created
    assert api.list_projects() == [created]
    updated = api.update_project(created["id"], {"name": "Office", "kind": "NOTE"})
    assert (updated["name"], updated["kind"]) == ("Office", "NOTE")
    data = api.get_project_data(created["id"])
    assert data["project"] == updated
    assert data["tasks"] == []
    assert data["columns"] == []
    api.delete_project(created["id"])
    assert api.list_projects() == []
    with pytest.raises(NotFound):
        api.get_project(created["id"])


def test_tasks(api: OpenAPI) -> None:
    project = api.create_project("Home")
    due = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    task = api.create_task(
        project["id"], "Buy milk", {"dueDate": due, "priority": 3, "tags": ["shop"]}
    )
    assert task["title"] == "Buy milk"
    assert task["dueDate"] == "2026-12-01T09:30:00+0000"
    assert api.get_task(project["id"], task["id"]) == task
    changed = api.update_task(project["id"], task["id"], {"title": "Buy oat milk", "priority": 5})
    assert (changed["title"], changed["priority"]) == ("Buy oat milk", 5)
    assert api.get_project_data(project["id"])["tasks"] == [changed]
    api.complete_task(project["id"], task["id"])
    assert api.get_project_data(project["id"])["tasks"] == []
    (done,) = api.list_completed_tasks([project["id"]])
    assert done["id"] == task["id"]
    assert done["status"] == 2
    api.delete_task(project["id"], task["id"])
    with pytest.raises(NotFound):
        api.get_task(project["id"], task["id"])


def test_inbox_move_and_filter(api: OpenAPI) -> None:
    inbox = api.get_project_data("inbox")["project"]
    errands = api.create_project("Errands")
    start = datetime(2026, 12, 1, 8, tzinfo=timezone.utc)
    first = api.create_task("inbox", "Post letter", {"startDate": start, "priority": 1})
    second = api.create_task(
        "inbox", "Call bank", {"startDate": start + timedelta(days=3), "tags": ["phone"]}
    )
    assert first["projectId"] == inbox["id"]
    (answer,) = api.move_tasks(
        [{"fromProjectId": inbox["id"], "toProjectId": errands["id"], "taskId": first["id"]}]
    )
    assert answer["id"] == first["id"]
    assert api.get_task(errands["id"], first["id"])["projectId"] == errands["id"]
    assert [t["id"] for t in api.filter_tasks(project_ids=[errands["id"]])] == [first["id"]]
    assert [t["id"] for t in api.filter_tasks(priority=[1])] == [first["id"]]
    assert [t["id"] for t in api.filter_tasks(tag=["phone"])] == [second["id"]]
    window = api.filter_tasks(
        start_date=start + timedelta(days=1), end_date=start + timedelta(days=5)
    )
    assert [t["id"] for t in window] == [second["id"]]
    assert api.filter_tasks(status=[2]) == []
    assert api.list_completed_tasks(start_date="2026-01-01T00:00:00+0000") == []


def test_naive_dates_are_local_time() -> None:
    naive = datetime(2026, 6, 1, 12, 0)
    assert format_date(naive) == naive.astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    tokyo = timezone(timedelta(hours=9))
    assert format_date(datetime(2026, 6, 1, 12, tzinfo=tokyo)) == "2026-06-01T12:00:00+0900"


def test_validation_errors_are_api_errors(api: OpenAPI, fake: FakeTickTick) -> None:
    project = api.create_project("P")
    with pytest.raises(ApiError) as caught:
        api.create_task(project["id"], "")
    assert caught.value.status == 400
    assert "title" in str(caught.value)
    with pytest.raises(ApiError, match="priority"):
        api.create_task(project["id"], "x", {"priority": 2})
    with pytest.raises(ApiError, match="dueDate"):
        api.create_task(project["id"], "x", {"dueDate": "tomorrow"})
    with pytest.raises(ConfigurationError):
        api.get_project("")


def test_ids_cannot_escape_their_path_segment(api: OpenAPI, fake: FakeTickTick) -> None:
    with pytest.raises(NotFound):
        api.get_project("../task/filter")
    assert api_requests(fake)[-1].path == "/open/v1/project/..%2Ftask%2Ffilter"


def test_connection_pool_is_reused(api: OpenAPI, fake: FakeTickTick) -> None:
    for _ in range(10):
        api.list_projects()
    ports = {r.client_port for r in api_requests(fake)}
    assert len(ports) == 1


# -- errors ---------------------------------------------------------------------------


def test_403_is_forbidden(api: OpenAPI, fake: FakeTickTick) -> None:
    fake.fail("/open/v1/project", 403, body='{"errorCode": "no_permission"}')
    with pytest.raises(Forbidden) as caught:
        api.list_projects()
    assert caught.value.status == 403
    assert "no_permission" in caught.value.body_excerpt


def test_429_with_retry_after_is_rate_limited(api: OpenAPI, fake: FakeTickTick) -> None:
    fake.limit_rate(retry_after=7)
    with pytest.raises(RateLimited) as caught:
        api.create_project("P")  # a POST is never retried
    assert caught.value.retry_after == 7
    assert "wait 7 s" in str(caught.value)


def test_get_is_retried_through_a_short_rate_limit(api: OpenAPI, fake: FakeTickTick) -> None:
    fake.limit_rate(times=1)
    assert api.list_projects() == []
    assert len(api_requests(fake)) == 2


def test_exceed_query_limit_body_is_rate_limited(api: OpenAPI, fake: FakeTickTick) -> None:
    fake.fail("/open/v1/project", 500, body='{"errorCode": "exceed_query_limit"}', times=4)
    with pytest.raises(RateLimited) as caught:
        api.list_projects()
    assert caught.value.retry_after is None
    fake.fail("/open/v1/project", 200, body='{"errorCode": "exceed_query_limit"}')
    with pytest.raises(RateLimited):
        api.list_projects()


def test_other_errors_carry_status_and_a_safe_excerpt(api: OpenAPI, fake: FakeTickTick) -> None:
    token = api.oauth.get_access_token()
    page = f"<html><body><h1>Oops</h1><p>token {token}</p>{'x' * 5000}</body></html>"
    fake.fail("/open/v1/project", 418, body=page, content_type="text/html")
    with pytest.raises(ApiError) as caught:
        api.list_projects()
    assert caught.value.status == 418
    assert "Oops" in str(caught.value)
    assert token not in str(caught.value)
    assert len(caught.value.body_excerpt) <= 200
    fake.fail("/open/v1/project", 200, body="not json", content_type="text/plain")
    with pytest.raises(ApiError, match="not JSON"):
        api.list_projects()


def test_unreachable_api_is_a_transport_error(oauth: OAuth2) -> None:
    with FakeTickTick() as gone:
        url = gone.url
    api = OpenAPI(oauth, base_url=f"{url}/open/v1", session=requests_retry_session(retries=0))
    with pytest.raises(TransportError, match="Could not reach"):
        api.list_projects()


# -- 401: renew once, never loop ---------------------------------------------------------


def test_401_resolves_again_once_and_succeeds(
    api: OpenAPI, fake: FakeTickTick, cache_path: Path
) -> None:
    first = api.oauth.get_access_token()
    fake.revoke(first)
    assert api.list_projects() == []
    second = api.oauth.get_access_token()
    assert second != first
    assert fake.token_requests == 2
    assert json.loads(cache_path.read_text())["access_token"] == second
    calls = api_requests(fake)
    assert [r.headers["Authorization"] for r in calls] == [f"Bearer {first}", f"Bearer {second}"]


def test_401_twice_is_a_clear_error_without_a_loop(api: OpenAPI, fake: FakeTickTick) -> None:
    api.oauth.get_access_token()
    fake.fail("/open/v1/project", 401, body='{"error": "invalid_token"}', times=5)
    with pytest.raises(Unauthorized) as caught:
        api.list_projects()
    assert len(api_requests(fake)) == 2
    assert fake.token_requests == 2
    assert "ticktick-auth login" in str(caught.value)


def test_401_without_a_terminal_needs_reauthorization(fake: FakeTickTick, cache_path: Path) -> None:
    fake.oauth2(cache_path=cache_path).get_access_token()  # a person signed on earlier
    cron = fake.oauth2(cache_path=cache_path, authorizer=None)  # no terminal here
    token = cron.get_access_token()
    fake.revoke(token)
    with pytest.raises(ReauthorizationRequired, match="ticktick-auth login"):
        OpenAPI(cron).list_projects()
    assert not cache_path.exists()  # the refused token is not kept
    assert fake.token_requests == 1


def test_refused_env_token_is_not_retried(
    fake: FakeTickTick, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fake.oauth2(cache_path=None).get_access_token()
    info = {"access_token": token, "expire_time": int(time.time()) + 86400 * 100}
    monkeypatch.setenv("ACCESS_TOKEN_DICT", json.dumps(info))
    ci = fake.oauth2(cache_path=None, env_key="ACCESS_TOKEN_DICT", authorizer=None)
    fake.revoke(token)
    with pytest.raises(Unauthorized, match="env:ACCESS_TOKEN_DICT"):
        OpenAPI(ci).list_projects()
    assert len(api_requests(fake)) == 1


def test_newer_cached_token_is_not_discarded(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path)
    old = oauth.get_access_token()
    other_process = fake.oauth2(cache_path=cache_path, resolve=False)
    newer = other_process.authorize()["access_token"]
    oauth.discard_token(old)
    assert json.loads(cache_path.read_text())["access_token"] == newer
    assert oauth.get_access_token() == newer


def test_streamed_body_is_not_resent(oauth: OAuth2, fake: FakeTickTick) -> None:
    fake.fail("/open/v1/task", 401)
    body = iter([b'{"title": "x"}'])
    response = oauth.session.post(f"{fake.url}/open/v1/task", data=body, auth=TickTickAuth(oauth))
    assert response.status_code == 401
    assert len(api_requests(fake)) == 1


# -- regions ----------------------------------------------------------------------------


def test_dida365_host_selects_its_api() -> None:
    oauth = OAuth2(
        "id", "secret", "http://127.0.0.1:8080/", host="dida365.com", cache_path=None, resolve=False
    )
    assert OpenAPI(oauth).base_url == "https://api.dida365.com/open/v1"
    with pytest.raises(ConfigurationError, match=r"belongs to ticktick\.com"):
        OpenAPI(oauth, base_url="https://api.ticktick.com/open/v1")
    international = OAuth2("id", "secret", "http://127.0.0.1:8080/", cache_path=None, resolve=False)
    assert OpenAPI(international).base_url == "https://api.ticktick.com/open/v1"


def test_token_is_never_sent_to_another_host(oauth: OAuth2, fake: FakeTickTick) -> None:
    oauth.get_access_token()
    with FakeTickTick() as elsewhere:
        for url in (
            f"{elsewhere.url}/open/v1/project",
            f"{fake.url}/oauth/token",  # right host, outside the API
            f"{fake.url}/open/v10/project",
            f"https://127.0.0.1:{fake.port}/open/v1/project",
        ):
            with pytest.raises(ConfigurationError, match="Refusing to send the TickTick token"):
                requests.get(url, auth=TickTickAuth(oauth), timeout=5)
        assert elsewhere.requests == []
    assert "Bearer" not in json.dumps([dict(r.headers) for r in fake.requests])


# -- after the outside attack on issue 15 ------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/%2e%2e/oauth/steal", "/project/.%2E/%2e./x", "/x/%2e%2e/%2E%2E/y"]
)
def test_an_encoded_dot_segment_cannot_take_the_token_out(
    oauth: OAuth2, fake: FakeTickTick, path: str
) -> None:
    """requests unquotes %2e after resolving dot segments: '/open/v1/../oauth' went out."""
    oauth.get_access_token()
    with pytest.raises(ConfigurationError, match="Refusing to send the TickTick token"):
        OpenAPI(oauth).request("GET", path)
    with pytest.raises(ConfigurationError, match="Refusing to send the TickTick token"):
        requests.get(f"{fake.url}/open/v1{path}", auth=TickTickAuth(oauth), timeout=5)
    assert api_requests(fake) == []


def test_ticktickauth_follows_a_redirect_out_of_the_base_without_the_token(
    oauth: OAuth2, fake: FakeTickTick
) -> None:
    from hostile import Connection, HostileServer

    def redirect_out_of_the_api(conn: Connection) -> None:
        while True:
            request = conn.read_request()
            if not request.target.startswith("/open/v1/"):
                conn.respond(200, b"[]", {"Content-Type": "application/json"})
                return
            conn.respond(302, b"", {"Location": "/oauth/steal", "Connection": "keep-alive"})

    with HostileServer(redirect_out_of_the_api) as server:
        base = f"{server.url}/open/v1"
        auth = TickTickAuth(oauth, api_base_url=base)
        answer = requests.get(f"{base}/project", auth=auth, timeout=5)
    assert answer.json() == []
    first, redirected = server.requests
    assert "authorization" in first.headers
    assert (redirected.target, "authorization" in redirected.headers) == ("/oauth/steal", False)
