"""ticktick.aio: HttpxAuth and AsyncOpenAPI with real httpx against the fake TickTick.

The async tests run under anyio's pytest plugin (it comes with httpx), on asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import gc
import json
import re
import socket
import struct
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from helpers import file_lock_held_elsewhere, run_python
from hostile import Connection, HostileServer
from test_faults import API_FAULTS, ERROR_STATUSES

from ticktick import (
    ApiError,
    AsyncOpenAPI,
    ConfigurationError,
    Forbidden,
    HttpxAuth,
    NotFound,
    OAuth2,
    OpenAPI,
    RateLimited,
    ReauthorizationRequired,
    TickTickError,
    TransportError,
    Unauthorized,
)
from ticktick.aio import loads_piecewise
from ticktick.api import Calls
from ticktick.testing import FakeTickTick

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def oauth(fake: FakeTickTick, cache_path: Path) -> OAuth2:
    return fake.oauth2(cache_path=cache_path)


@pytest.fixture
async def api(oauth: OAuth2) -> AsyncIterator[AsyncOpenAPI]:
    # No backoff in tests: retried statuses come back at once.
    async with AsyncOpenAPI(oauth, backoff_factor=0) as client:
        yield client


def api_requests(fake: FakeTickTick) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith("/open/v1")]


# -- every endpoint ---------------------------------------------------------------------


async def test_projects(api: AsyncOpenAPI) -> None:
    assert await api.list_projects() == []
    created = await api.create_project("Work", {"color": "#4772fa", "viewMode": "kanban"})
    assert (created["name"], created["viewMode"]) == ("Work", "kanban")
    assert await api.get_project(created["id"]) == created
    assert await api.list_projects() == [created]
    updated = await api.update_project(created["id"], {"name": "Office", "kind": "NOTE"})
    assert (updated["name"], updated["kind"]) == ("Office", "NOTE")
    data = await api.get_project_data(created["id"])
    assert (data["project"], data["tasks"], data["columns"]) == (updated, [], [])
    await api.delete_project(created["id"])
    assert await api.list_projects() == []
    with pytest.raises(NotFound):
        await api.get_project(created["id"])


async def test_tasks(api: AsyncOpenAPI) -> None:
    project = await api.create_project("Home")
    due = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    task = await api.create_task(project["id"], "Buy milk", {"dueDate": due, "priority": 3})
    assert task["dueDate"] == "2026-12-01T09:30:00+0000"
    assert await api.get_task(project["id"], task["id"]) == task
    changed = await api.update_task(project["id"], task["id"], {"title": "Buy oat milk"})
    assert changed["title"] == "Buy oat milk"
    assert (await api.get_project_data(project["id"]))["tasks"] == [changed]
    await api.complete_task(project["id"], task["id"])
    completed = await api.list_completed_tasks([project["id"]])
    assert [t["id"] for t in completed] == [task["id"]]
    await api.delete_task(project["id"], task["id"])
    with pytest.raises(NotFound):
        await api.get_task(project["id"], task["id"])


async def test_inbox_move_and_filter(api: AsyncOpenAPI) -> None:
    inbox = (await api.get_project_data("inbox"))["project"]
    other = await api.create_project("Other")
    task = await api.create_task(inbox["id"], "Move me", {"priority": 5, "tags": ["x"]})
    moved = await api.move_tasks(
        [{"fromProjectId": inbox["id"], "toProjectId": other["id"], "taskId": task["id"]}]
    )
    assert len(moved) == 1
    assert [t["id"] for t in (await api.get_project_data(other["id"]))["tasks"]] == [task["id"]]
    found = await api.filter_tasks([other["id"]], priority=[5], tag=["x"], status=[0])
    assert [t["id"] for t in found] == [task["id"]]
    assert await api.filter_tasks([other["id"]], priority=[1]) == []


async def test_sync_and_async_clients_send_the_same_requests(
    api: AsyncOpenAPI, fake: FakeTickTick
) -> None:
    from ticktick import OpenAPI

    call = Calls.create_project("Same", {"color": "#ffffff"})
    made = [OpenAPI(api.oauth).send(call), await api.send(call)]
    assert [project["name"] for project in made] == ["Same", "Same"]
    first, second = (r for r in api_requests(fake) if r.method == "POST")
    assert (first.path, json.loads(first.body)) == (second.path, json.loads(second.body))


async def test_the_fake_ticktick_fixture_works_in_async_tests(
    fake_ticktick: FakeTickTick,
) -> None:
    async with AsyncOpenAPI(fake_ticktick.oauth2(cache_path=None)) as api:
        assert await api.list_projects() == []
    assert fake_ticktick.token_requests == 1


async def test_connection_pool_is_reused(api: AsyncOpenAPI, fake: FakeTickTick) -> None:
    for _ in range(10):
        await api.list_projects()
    assert len({r.client_port for r in api_requests(fake)}) == 1


async def test_a_given_client_is_used_and_left_open(oauth: OAuth2, fake: FakeTickTick) -> None:
    async with httpx.AsyncClient() as client:
        async with AsyncOpenAPI(oauth, client=client) as api:
            await api.list_projects()
        assert not client.is_closed


def test_without_httpx_everything_else_works_and_aio_says_what_to_install() -> None:
    result = run_python(
        """
        import sys
        sys.modules["httpx"] = None  # as if it were not installed
        import ticktick
        print(ticktick.OpenAPI.__name__)
        try:
            ticktick.AsyncOpenAPI
        except ticktick.ConfigurationError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "OpenAPI",
        "ticktick.aio needs the httpx package: pip install 'ticktick-oauth[httpx]'.",
    ]


# -- HttpxAuth on both kinds of client ----------------------------------------------------


async def test_httpx_auth_on_an_async_client(oauth: OAuth2, fake: FakeTickTick) -> None:
    async with httpx.AsyncClient(auth=HttpxAuth(oauth)) as client:
        response = await client.get(f"{fake.url}/open/v1/project")
    assert (response.status_code, response.json()) == (200, [])
    token = oauth.get_access_token()
    assert api_requests(fake)[0].headers["Authorization"] == f"Bearer {token}"


def test_httpx_auth_on_a_sync_client(oauth: OAuth2, fake: FakeTickTick) -> None:
    with httpx.Client(auth=HttpxAuth(oauth)) as client:
        response = client.get(f"{fake.url}/open/v1/project")
    assert (response.status_code, response.json()) == (200, [])


async def test_httpx_auth_renews_once_on_401_on_an_async_client(
    oauth: OAuth2, fake: FakeTickTick
) -> None:
    first = oauth.get_access_token()
    fake.revoke(first)
    async with httpx.AsyncClient(auth=HttpxAuth(oauth)) as client:
        response = await client.get(f"{fake.url}/open/v1/project")
    assert response.status_code == 200
    second = oauth.get_access_token()
    assert second != first
    assert [r.headers["Authorization"] for r in api_requests(fake)] == [
        f"Bearer {first}",
        f"Bearer {second}",
    ]


def test_httpx_auth_renews_once_on_401_on_a_sync_client(oauth: OAuth2, fake: FakeTickTick) -> None:
    first = oauth.get_access_token()
    fake.revoke(first)
    with httpx.Client(auth=HttpxAuth(oauth)) as client:
        assert client.get(f"{fake.url}/open/v1/project").status_code == 200
        fake.fail("/open/v1/project", 401, body="x" * 200_000, times=5)
        response = client.get(f"{fake.url}/open/v1/project")
    assert response.status_code == 401  # a second refusal is returned: no loop
    assert len(api_requests(fake)) == 4
    assert fake.token_requests == 3
    assert response.history[0].content == b""  # the refused body over 64 KiB was not read


async def test_httpx_auth_reads_a_small_refused_body(oauth: OAuth2, fake: FakeTickTick) -> None:
    oauth.get_access_token()
    fake.fail("/open/v1/project", 401, body='{"error": "invalid_token"}', times=2)
    async with httpx.AsyncClient(auth=HttpxAuth(oauth)) as client:
        response = await client.get(f"{fake.url}/open/v1/project")
    assert response.status_code == 401
    assert response.history[0].json() == {"error": "invalid_token"}
    assert len(api_requests(fake)) == 2


async def test_a_streamed_body_is_not_resent(oauth: OAuth2, fake: FakeTickTick) -> None:
    fake.fail("/open/v1/task", 401)

    async def body() -> AsyncIterator[bytes]:
        yield b'{"title": "x"}'

    async with httpx.AsyncClient(auth=HttpxAuth(oauth)) as client:
        response = await client.post(f"{fake.url}/open/v1/task", content=body())
    assert response.status_code == 401
    assert len(api_requests(fake)) == 1


async def test_the_token_goes_only_to_the_regions_api(oauth: OAuth2, fake: FakeTickTick) -> None:
    oauth.get_access_token()
    auth = HttpxAuth(oauth)
    with FakeTickTick() as elsewhere:
        urls = (
            f"{elsewhere.url}/open/v1/project",
            f"{fake.url}/oauth/token",  # right host, outside the API
            f"{fake.url}/open/v10/project",
            f"https://127.0.0.1:{fake.port}/open/v1/project",
        )
        async with httpx.AsyncClient(auth=auth) as client:
            for url in urls:
                with pytest.raises(ConfigurationError, match="Refusing to send the TickTick"):
                    await client.get(url)
        with httpx.Client(auth=auth) as sync:
            for url in urls:
                with pytest.raises(ConfigurationError, match="Refusing to send the TickTick"):
                    sync.get(url)
        assert elsewhere.requests == []
    assert "Bearer" not in json.dumps([dict(r.headers) for r in fake.requests])


def test_the_other_regions_api_is_refused() -> None:
    oauth = OAuth2(
        "id", "secret", "http://127.0.0.1:8080/", host="dida365.com", cache_path=None, resolve=False
    )
    assert AsyncOpenAPI(oauth).base_url == "https://api.dida365.com/open/v1"
    assert HttpxAuth(oauth).api_base_url == "https://api.dida365.com/open/v1"
    other = "https://api.ticktick.com/open/v1"
    with pytest.raises(ConfigurationError, match=r"belongs to ticktick\.com"):
        AsyncOpenAPI(oauth, base_url=other)
    with pytest.raises(ConfigurationError, match=r"belongs to ticktick\.com"):
        HttpxAuth(oauth, api_base_url=other)


# -- 401: renew once, never loop ---------------------------------------------------------


async def test_401_resolves_again_once_and_succeeds(
    api: AsyncOpenAPI, fake: FakeTickTick, cache_path: Path
) -> None:
    first = api.oauth.get_access_token()
    fake.revoke(first)
    assert await api.list_projects() == []
    second = api.oauth.get_access_token()
    assert second != first
    assert json.loads(cache_path.read_text())["access_token"] == second
    assert [r.headers["Authorization"] for r in api_requests(fake)] == [
        f"Bearer {first}",
        f"Bearer {second}",
    ]


async def test_many_coroutines_refused_at_once_renew_once(
    api: AsyncOpenAPI, fake: FakeTickTick
) -> None:
    fake.revoke(api.oauth.get_access_token())
    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(api.list_projects)
    assert fake.token_requests == 2  # the first token, and one renewal for all twenty


async def test_401_twice_is_a_clear_error_without_a_loop(
    api: AsyncOpenAPI, fake: FakeTickTick
) -> None:
    token = api.oauth.get_access_token()
    fake.fail("/open/v1/project", 401, body=f'{{"error": "invalid_token {token}"}}', times=5)
    with pytest.raises(Unauthorized) as caught:
        await api.list_projects()
    assert len(api_requests(fake)) == 2
    assert fake.token_requests == 2
    assert "ticktick-auth login" in str(caught.value)
    assert token not in str(caught.value)


async def test_401_without_a_terminal_needs_reauthorization(
    fake: FakeTickTick, cache_path: Path
) -> None:
    fake.oauth2(cache_path=cache_path).get_access_token()
    cron = fake.oauth2(cache_path=cache_path, authorizer=None)
    fake.revoke(cron.get_access_token())
    async with AsyncOpenAPI(cron) as api:
        with pytest.raises(ReauthorizationRequired, match="ticktick-auth login"):
            await api.list_projects()
    assert not cache_path.exists()


# -- the fault matrix of the sync client ----------------------------------------------------


@pytest.fixture
async def quick_api(fake: FakeTickTick) -> AsyncIterator[AsyncOpenAPI]:
    oauth = fake.oauth2(cache_path=None, timeout=(2.0, 1.0))
    async with AsyncOpenAPI(oauth, backoff_factor=0) as client:
        yield client


@pytest.mark.parametrize("status", ERROR_STATUSES)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_api_error_statuses(
    quick_api: AsyncOpenAPI, fake: FakeTickTick, status: int, method: str
) -> None:
    quick_api.oauth.get_access_token()
    fake.fail("/open/v1/project", status, body='{"errorCode": "oops"}', times=10)
    call: Callable[[], Awaitable[object]] = (
        quick_api.list_projects
        if method == "GET"
        else functools.partial(quick_api.create_project, "x")
    )
    with pytest.raises(ApiError) as caught:
        await call()
    assert caught.value.status == status
    retried_get = method == "GET" and status in (429, 500, 502, 503, 504)
    renewed = status == 401
    calls = fake.requests_to("/open/v1/project")
    assert len(calls) == (4 if retried_get else 2 if renewed else 1)
    expected = {429: RateLimited, 403: Forbidden, 404: NotFound, 401: Unauthorized}
    assert type(caught.value) is expected.get(status, ApiError)


@pytest.mark.parametrize(("fault", "match"), API_FAULTS)
async def test_api_transport_and_shape_faults(
    quick_api: AsyncOpenAPI, fake: FakeTickTick, fault: dict[str, Any], match: str
) -> None:
    quick_api.oauth.get_access_token()
    fake.fail("/open/v1/project", **fault, times=1)
    started = time.monotonic()
    with pytest.raises(TickTickError, match=match):
        await quick_api.create_project("x")  # a POST: never resent
    assert time.monotonic() - started < 10
    assert len(fake.requests_to("/open/v1/project")) == 1


async def test_a_dropped_get_is_sent_again(quick_api: AsyncOpenAPI, fake: FakeTickTick) -> None:
    quick_api.oauth.get_access_token()
    fake.fail("/open/v1/project", drop=True, times=1)
    assert await quick_api.list_projects() == []
    assert len(fake.requests_to("/open/v1/project")) == 2


async def test_429_with_retry_after_is_rate_limited(api: AsyncOpenAPI, fake: FakeTickTick) -> None:
    fake.limit_rate(retry_after=7)
    with pytest.raises(RateLimited) as caught:
        await api.create_project("P")  # a POST is never retried
    assert caught.value.retry_after == 7
    assert "wait 7 s" in str(caught.value)


async def test_retry_after_is_honoured_and_capped(oauth: OAuth2, fake: FakeTickTick) -> None:
    async with AsyncOpenAPI(oauth, backoff_factor=0, retry_after_max=0.5) as api:
        await api.list_projects()
        fake.fail("/open/v1/project", 503, headers={"Retry-After": "1"}, times=1)
        started = time.monotonic()
        assert await api.list_projects() == []
        waited = time.monotonic() - started
        assert 0.45 <= waited < 10  # 1 s asked, 0.5 s obeyed
        fake.fail("/open/v1/project", 503, headers={"Retry-After": "86400"}, times=3)
        started = time.monotonic()
        assert await api.list_projects() == []
        assert time.monotonic() - started < 10  # a day asked, 0.5 s each obeyed


async def test_exceed_query_limit_body_is_rate_limited(
    api: AsyncOpenAPI, fake: FakeTickTick
) -> None:
    fake.fail("/open/v1/project", 200, body='{"errorCode": "exceed_query_limit"}')
    with pytest.raises(RateLimited):
        await api.list_projects()


async def test_an_unknown_charset_is_refused(api: AsyncOpenAPI, fake: FakeTickTick) -> None:
    fake.fail("/open/v1/project", 200, body="[]", content_type="application/json; charset=x-no")
    with pytest.raises(ApiError, match="cannot be decoded"):
        await api.list_projects()


async def test_unreachable_api_is_a_transport_error(oauth: OAuth2) -> None:
    with FakeTickTick() as gone:
        url = gone.url
    async with AsyncOpenAPI(oauth, base_url=f"{url}/open/v1", retries=0) as api:
        with pytest.raises(TransportError, match="Could not reach"):
            await api.list_projects()


def trickle_the_status_line(conn: Connection) -> None:
    conn.read_request()
    conn.trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", every=0.2)


def continue_forever(conn: Connection) -> None:
    conn.read_request()
    while True:
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.05)


@pytest.mark.parametrize("handler", [Connection.hold, trickle_the_status_line, continue_forever])
async def test_a_silent_or_trickling_server_is_cut_at_the_deadline(
    oauth: OAuth2, handler: Callable[[Connection], None]
) -> None:
    oauth.get_access_token()
    with HostileServer(handler) as server:
        async with AsyncOpenAPI(
            oauth, base_url=f"{server.url}/open/v1", timeout=(1.0, 0.5), retries=0
        ) as api:
            started = time.monotonic()
            with pytest.raises(TransportError, match="did not answer in time"):
                await api.list_projects()
            assert time.monotonic() - started < 10


# -- the loop is never blocked; one resolution for all -------------------------------------


@contextlib.asynccontextmanager
async def heartbeat() -> AsyncIterator[list[float]]:
    """A coroutine ticking every 10 ms while the block runs; yields the gaps between ticks.

    A gap much over 10 ms is the time something held the event loop.
    """
    gaps: list[float] = []

    async def beat() -> None:
        last = time.monotonic()
        while True:
            await anyio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async with anyio.create_task_group() as group:
        group.start_soon(beat)
        yield gaps
        group.cancel_scope.cancel()


async def test_the_loop_ticks_while_a_token_waits_on_another_process(
    fake: FakeTickTick, cache_path: Path
) -> None:
    cache_path.parent.mkdir()
    with file_lock_held_elsewhere(f"{cache_path}.lock", 2) as holder:
        results: list[object] = []
        oauth = fake.oauth2(cache_path=cache_path, resolve=False)
        async with AsyncOpenAPI(oauth) as api:

            async def call() -> None:
                results.append(await api.list_projects())

            started = time.monotonic()
            gc.disable()  # measure this code, not the collector's pauses (a loaded machine)
            try:
                async with heartbeat() as gaps, anyio.create_task_group() as calls:
                    for _ in range(20):
                        calls.start_soon(call)
            finally:
                gc.enable()
            waited = time.monotonic() - started
            ended = time.time()
        assert holder.stdout is not None
        released = float(holder.stdout.readline())
        assert holder.wait(10) == 0
    assert results == [[]] * 20
    assert released <= ended  # the token did wait for the other process
    assert len(gaps) > 50
    print(f"waited {waited:.2f} s; longest heartbeat gap {max(gaps) * 1000:.1f} ms")  # -s
    assert max(gaps) < 0.05, f"the loop was blocked for {max(gaps) * 1000:.0f} ms"
    assert fake.token_requests == 1


async def test_200_coroutines_cause_one_authorization(fake: FakeTickTick, cache_path: Path) -> None:
    oauth = fake.oauth2(cache_path=cache_path, resolve=False)  # the store is empty
    async with AsyncOpenAPI(oauth) as one, AsyncOpenAPI(oauth) as other:
        answers: list[object] = []

        async def list_projects(api: AsyncOpenAPI) -> None:
            answers.append(await api.list_projects())

        async with anyio.create_task_group() as group:
            for number in range(200):
                group.start_soon(list_projects, one if number % 2 else other)
    assert answers == [[]] * 200
    assert fake.token_requests == 1
    assert len(fake.codes_issued) == 1
    token = oauth.get_access_token()
    sent = {r.headers["Authorization"] for r in api_requests(fake)}
    assert sent == {f"Bearer {token}"}


async def test_a_cancelled_caller_leaves_the_resolution_to_the_others(
    fake: FakeTickTick,
) -> None:
    from ticktick import AuthorizationRequest
    from ticktick.testing import approve

    def slow_person(request: AuthorizationRequest) -> str:
        time.sleep(0.5)
        return approve(request)

    oauth = fake.oauth2(cache_path=None, authorizer=slow_person, resolve=False)
    async with AsyncOpenAPI(oauth) as api:
        tokens: list[str] = []

        async def impatient() -> None:
            with anyio.move_on_after(0.1):
                await api.auth.token()
            tokens.append("gave up")

        async def patient() -> None:
            await anyio.sleep(0.05)  # after the impatient one started the resolution
            tokens.append(await api.auth.token())

        async with anyio.create_task_group() as group:
            group.start_soon(impatient)
            for _ in range(5):
                group.start_soon(patient)
    assert tokens.count("gave up") == 1
    assert tokens.count(oauth.get_access_token()) == 5
    assert fake.token_requests == 1


async def test_a_failed_resolution_reaches_every_waiter(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, authorizer=None, resolve=False)  # nobody signs on
    async with AsyncOpenAPI(oauth) as api:
        failures: list[BaseException] = []

        async def call() -> None:
            try:
                await api.list_projects()
            except ReauthorizationRequired as exc:
                failures.append(exc)

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(call)
    assert len(failures) == 20
    assert api_requests(fake) == []


# -- the body of a refused (401) answer: at most MAX_REFUSED_BODY is read -------------------


async def test_a_huge_401_body_is_not_read_before_the_retry(tmp_path: Path) -> None:
    from test_hostile_answers import REFUSED_BODY, refusing_the_old_token, renewed_elsewhere

    for client in ("AsyncOpenAPI", "HttpxAuth"):
        sent: list[int] = []
        with HostileServer(refusing_the_old_token(REFUSED_BODY, sent)) as server:
            oauth = renewed_elsewhere(server, tmp_path / client)
            if client == "AsyncOpenAPI":
                async with AsyncOpenAPI(oauth) as api:
                    assert await api.list_projects() == []
            else:
                async with httpx.AsyncClient(auth=HttpxAuth(oauth), timeout=20) as http:
                    url = f"{oauth.endpoints.api_base_url}/project"
                    assert (await http.get(url)).json() == []
        assert sum(sent) < REFUSED_BODY // 2, f"{client} let {sum(sent)} bytes through"


async def test_a_small_401_body_is_kept_and_its_connection_reused(tmp_path: Path) -> None:
    from test_hostile_answers import refusing_the_old_token, renewed_elsewhere

    with HostileServer(refusing_the_old_token(100, [])) as server:
        oauth = renewed_elsewhere(server, tmp_path)
        async with httpx.AsyncClient(auth=HttpxAuth(oauth), timeout=5) as http:
            answer = await http.get(f"{oauth.endpoints.api_base_url}/project")
    assert answer.json() == []
    assert answer.history[0].status_code == 401
    assert answer.history[0].content == b"x" * 100
    assert server.connections == 1


# -- a personal API token (issue 14) ----------------------------------------------------


async def test_a_personal_api_token_on_both_clients_and_its_401_explained(
    fake: FakeTickTick,
) -> None:
    from ticktick import ApiToken

    token = fake.issue_api_token()
    async with AsyncOpenAPI(ApiToken(token, host=fake.url)) as client:
        assert await client.list_projects() == []
    with httpx.Client(auth=HttpxAuth(ApiToken(token, host=fake.url))) as sync:
        assert sync.get(f"{fake.url}/open/v1/project").status_code == 200
    fake.revoke(token)
    async with AsyncOpenAPI(ApiToken(token, host=fake.url)) as client:
        with pytest.raises(Unauthorized, match="revoked, mistyped") as refused:
            await client.list_projects()
    assert "API Token" in str(refused.value)
    assert token not in str(refused.value)
    assert fake.requests_to("/oauth/authorize") == []
    assert fake.token_requests == 0


# -- after the outside attack on issue 15 ------------------------------------------------


def answer_anything(conn: Connection) -> None:
    conn.read_request()
    conn.respond(200, b"[]", {"Content-Type": "application/json"})


def redirect_out_of_the_api(conn: Connection) -> None:
    """Answer requests under /open/v1/ with a same-host 302 to /oauth/steal."""
    while True:
        request = conn.read_request()
        if not request.target.startswith("/open/v1/"):
            conn.respond(200, b"[]", {"Content-Type": "application/json"})
            return
        conn.respond(302, b"", {"Location": "/oauth/steal", "Connection": "keep-alive"})


def tokens_outside_the_base(server: HostileServer) -> list[str]:
    return [
        r.target
        for r in server.requests
        if not r.target.startswith("/open/v1/") and "authorization" in r.headers
    ]


@pytest.mark.parametrize(
    "path", ["/../../oauth/steal", "/project/../../../steal", "/./../x", "/..", "/%2e%2e/x"]
)
async def test_a_path_leaving_the_base_is_refused_before_sending(
    fake: FakeTickTick, path: str
) -> None:
    oauth = fake.oauth2(cache_path=None)
    with HostileServer(answer_anything) as server:
        async with AsyncOpenAPI(oauth, base_url=f"{server.url}/open/v1") as api:
            with pytest.raises(ConfigurationError, match="Refusing to send the TickTick token"):
                await api.request("GET", path)
        assert server.requests == []


async def test_a_backslash_path_is_sent_as_the_sync_client_sends_it(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None)
    with HostileServer(answer_anything) as server:
        base = f"{server.url}/open/v1"
        OpenAPI(oauth, base_url=base).request("GET", "/\\..\\..\\steal")
        async with AsyncOpenAPI(oauth, base_url=base) as api:
            await api.request("GET", "/\\..\\..\\steal")
        sync_target, async_target = (r.target for r in server.requests)
    assert async_target == sync_target == "/open/v1/%5C..%5C..%5Csteal"


async def test_a_redirect_following_client_given_to_async_openapi_is_not_followed(
    fake: FakeTickTick,
) -> None:
    oauth = fake.oauth2(cache_path=None)
    with HostileServer(redirect_out_of_the_api) as server:
        async with httpx.AsyncClient(follow_redirects=True) as client:
            base = f"{server.url}/open/v1"
            async with AsyncOpenAPI(oauth, base_url=base, client=client) as api:
                with pytest.raises(ApiError, match="HTTP 302"):
                    await api.list_projects()
        assert [r.target for r in server.requests] == ["/open/v1/project"]


async def test_httpx_auth_follows_a_redirect_out_of_the_base_without_the_token(
    fake: FakeTickTick,
) -> None:
    oauth = fake.oauth2(cache_path=None)
    with HostileServer(redirect_out_of_the_api) as server:
        base = f"{server.url}/open/v1"
        auth = HttpxAuth(oauth, api_base_url=base)
        async with httpx.AsyncClient(auth=auth, follow_redirects=True) as client:
            assert (await client.get(f"{base}/project")).json() == []
        assert [r.target for r in server.requests] == ["/open/v1/project", "/oauth/steal"]
        assert "authorization" in server.requests[0].headers
        assert tokens_outside_the_base(server) == []


def test_httpx_auth_on_a_sync_client_follows_a_redirect_without_the_token(
    fake: FakeTickTick,
) -> None:
    oauth = fake.oauth2(cache_path=None)
    with HostileServer(redirect_out_of_the_api) as server:
        base = f"{server.url}/open/v1"
        auth = HttpxAuth(oauth, api_base_url=base)
        with httpx.Client(auth=auth, follow_redirects=True) as client:
            assert client.get(f"{base}/project").json() == []
        assert len(server.requests) == 2
        assert tokens_outside_the_base(server) == []


def trickled_refusal() -> Callable[[Connection], None]:
    """First a 401 whose 60000-byte body comes a byte every 0.2 s (3.3 hours), then []."""
    refused = threading.Event()

    def handler(conn: Connection) -> None:
        conn.read_request()
        if refused.is_set():
            answer_anything_read(conn)
            return
        refused.set()
        conn.send(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 60000\r\n\r\n")
        conn.trickle(b"x" * 60000, every=0.2)

    return handler


def answer_anything_read(conn: Connection) -> None:
    conn.respond(200, b"[]", {"Content-Type": "application/json"})


async def test_httpx_auth_reads_a_trickled_refused_body_within_the_read_timeout(
    fake: FakeTickTick,
) -> None:
    oauth = fake.oauth2(cache_path=None)
    oauth.get_access_token()
    with HostileServer(trickled_refusal()) as server:
        base = f"{server.url}/open/v1"
        auth = HttpxAuth(oauth, api_base_url=base)
        started = time.monotonic()
        async with httpx.AsyncClient(auth=auth, timeout=1) as client:
            with anyio.fail_after(20):  # the test's guard, not the library's
                answer = await client.get(f"{base}/project")
        assert answer.json() == []
        assert time.monotonic() - started < 5


def test_httpx_auth_on_a_sync_client_reads_a_trickled_refused_body_in_time(
    fake: FakeTickTick,
) -> None:
    oauth = fake.oauth2(cache_path=None)
    oauth.get_access_token()
    with HostileServer(trickled_refusal()) as server:
        base = f"{server.url}/open/v1"
        started = time.monotonic()
        with httpx.Client(auth=HttpxAuth(oauth, api_base_url=base), timeout=1) as client:
            assert client.get(f"{base}/project").json() == []
        assert time.monotonic() - started < 5


def test_a_request_after_async_with_or_aclose_is_a_typed_error(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None)

    async def after_async_with() -> None:
        async with AsyncOpenAPI(oauth) as api:
            assert await api.list_projects() == []
        await api.list_projects()

    async def after_aclose() -> None:
        api = AsyncOpenAPI(oauth)
        await api.aclose()
        await api.create_project("never sent")

    for main in (after_async_with, after_aclose):
        with pytest.raises(ConfigurationError, match=r"was closed .* make a new one"):
            asyncio.run(main())
    assert [r.method for r in fake.requests_to("/open/v1/project")] == ["GET"]


def test_one_client_in_two_event_loops_is_a_typed_error(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None)
    api = AsyncOpenAPI(oauth)
    assert asyncio.run(api.list_projects()) == []
    with pytest.raises(ConfigurationError, match="bound to another event loop"):
        asyncio.run(api.list_projects())


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"retries": "3"}, "retries='3'"),
        ({"retries": -1}, "retries=-1"),
        ({"retry_after_max": -1.0}, "retry_after_max=-1.0"),
        ({"backoff_factor": float("nan")}, "backoff_factor=nan"),
        ({"max_connections": 0}, "max_connections=0"),
    ],
)
def test_bad_arguments_are_refused_up_front(oauth: OAuth2, bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(match)):
        AsyncOpenAPI(oauth, **bad)


BLOCK_HTTPX = """
import sys
sys.modules["httpx"] = None  # as if the httpx extra were not installed
sys.modules["anyio"] = None
"""


@pytest.mark.parametrize(
    "code",
    [
        "from ticktick import *\nprint(OpenAPI.__name__)",
        "import ticktick, pydoc\npydoc.render_doc(ticktick)\nprint('OpenAPI')",
        "import ticktick, inspect\ninspect.getmembers(ticktick)\nprint('OpenAPI')",
        "import ticktick\nassert not hasattr(ticktick, 'AsyncOpenAPI')\nprint('OpenAPI')",
    ],
    ids=["star-import", "pydoc", "getmembers", "hasattr"],
)
def test_the_public_names_can_be_walked_without_httpx(code: str) -> None:
    done = run_python(BLOCK_HTTPX + code)
    assert done.returncode == 0, done.stderr[-600:]
    assert done.stdout.strip() == "OpenAPI"


def test_without_httpx_importing_aio_is_an_import_error_saying_what_to_install() -> None:
    done = run_python(
        BLOCK_HTTPX
        + "try:\n    from ticktick.aio import AsyncOpenAPI\n"
        + "except ImportError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    assert done.stdout.strip() == (
        "ExtraNotInstalled ticktick.aio needs the httpx package: "
        "pip install 'ticktick-oauth[httpx]'."
    )


def test_a_large_answer_is_parsed_off_the_loop(fake: FakeTickTick) -> None:
    """13 MB of tasks: json.loads alone holds the loop ~200 ms. CPython's cyclic GC
    (run by whichever thread allocates, holding the GIL) is switched off here, so
    that this measures the client, not the collector's pauses (docs/async.md)."""
    oauth = fake.oauth2(cache_path=None)
    oauth.get_access_token()
    tasks = [
        {"id": f"{n:024x}", "projectId": "p", "title": "t" * 20, "tags": ["a", "b"]}
        for n in range(120_000)
    ]
    fake.fail("/open/v1/task/filter", 200, body=json.dumps(tasks), times=1)
    gaps: list[float] = []

    async def main() -> int:
        async with heartbeat() as beats, AsyncOpenAPI(oauth) as api:
            found = await api.filter_tasks(["p"])
        gaps.extend(beats)
        return len(found)

    gc.disable()
    try:
        assert asyncio.run(main()) == 120_000
    finally:
        gc.enable()
    assert max(gaps) < 0.05, f"the loop was blocked for {max(gaps) * 1000:.0f} ms"


@pytest.mark.parametrize(
    "text",
    ["[]", " {} ", '[1, {"a": [2]} ,"x"]', '{"p": {"q": 1}, "t": [1, 2], "t": []}', "3"],
)
def test_loads_piecewise_is_json_loads(text: str) -> None:
    assert loads_piecewise(text) == json.loads(text)


@pytest.mark.parametrize("text", ["[1,]", '{"a" 1}', "[1", "1 2", "", "{1: 2}"])
def test_loads_piecewise_fails_as_json_loads(text: str) -> None:
    try:
        json.loads(text)
    except ValueError as exc:
        expected = str(exc)
    with pytest.raises(ValueError, match=re.escape(expected)):
        loads_piecewise(text)


def test_each_waiter_of_a_failed_resolution_gets_a_traceback_of_its_own(
    fake: FakeTickTick,
) -> None:
    oauth = fake.oauth2(cache_path=None, authorizer=None, resolve=False)  # nobody signs on
    errors: list[ReauthorizationRequired] = []

    async def main() -> None:
        async with AsyncOpenAPI(oauth) as api:

            async def call() -> None:
                try:
                    await api.list_projects()
                except ReauthorizationRequired as exc:
                    errors.append(exc)

            await asyncio.gather(*(call() for _ in range(200)))

    asyncio.run(main())
    assert len(errors) == len({id(error) for error in errors}) == 200
    assert max(len(traceback.extract_tb(error.__traceback__)) for error in errors) < 60
    assert len({str(error) for error in errors}) == 1


# -- the same failure reads the same from both clients ------------------------------------


def drop(conn: Connection) -> None:
    conn.read_request()
    conn.sock.close()


def reset(conn: Connection) -> None:
    conn.read_request()
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()


def truncated_body(conn: Connection) -> None:
    conn.read_request()
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: application/json\r\n\r\n[1")
    conn.sock.close()


def broken_gzip(conn: Connection) -> None:
    conn.read_request()
    conn.respond(200, b"not gzip", {"Content-Encoding": "gzip", "Content-Type": "application/json"})


def both_clients(
    fake: FakeTickTick, handler: Callable[[Connection], None], method: str
) -> list[tuple[str, str, int]]:
    """What OpenAPI and AsyncOpenAPI each raise, and how many requests each sent."""
    oauth = fake.oauth2(cache_path=None, timeout=(2.0, 1.0))
    oauth.get_access_token()
    seen: list[tuple[str, str, int]] = []
    with HostileServer(handler) as server:
        base = f"{server.url}/open/v1"

        def sync() -> object:
            api = OpenAPI(oauth, base_url=base)
            return api.list_projects() if method == "GET" else api.create_project("x")

        async def async_() -> object:
            async with AsyncOpenAPI(oauth, base_url=base, backoff_factor=0) as api:
                if method == "GET":
                    return await api.list_projects()
                return await api.create_project("x")

        for run in (sync, lambda: asyncio.run(async_())):
            before = len(server.requests)
            with pytest.raises(TransportError) as failed:
                run()
            seen.append(
                (type(failed.value).__name__, str(failed.value), len(server.requests) - before)
            )
    return seen


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("handler", [drop, reset])
def test_a_dropped_connection_reads_the_same_from_both_clients(
    fake: FakeTickTick, handler: Callable[[Connection], None], method: str
) -> None:
    sync, async_ = both_clients(fake, handler, method)
    assert async_ == sync
    assert "(ConnectionError)" in sync[1]


@pytest.mark.parametrize("handler", [truncated_body, broken_gzip])
def test_a_get_whose_body_broke_is_sent_once_by_both_clients(
    fake: FakeTickTick, handler: Callable[[Connection], None]
) -> None:
    sync, async_ = both_clients(fake, handler, "GET")
    assert async_ == sync
    assert sync[2] == 1


def test_a_refused_connection_reads_the_same_from_both_clients(fake: FakeTickTick) -> None:
    oauth = fake.oauth2(cache_path=None, timeout=(2.0, 1.0))
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{spare.getsockname()[1]}/open/v1"
    spare.close()  # nothing listens there now
    oauth.get_access_token()
    with pytest.raises(TransportError) as sync:
        OpenAPI(oauth, base_url=base).create_project("x")

    async def main() -> None:
        async with AsyncOpenAPI(oauth, base_url=base, backoff_factor=0) as api:
            await api.create_project("x")

    with pytest.raises(TransportError) as async_:
        asyncio.run(main())
    assert str(async_.value) == str(sync.value)
    assert f"[Errno {errno.ECONNREFUSED}]" in str(sync.value)


async def test_1000_coroutines_at_once_do_not_stall_the_loop(
    fake: FakeTickTick, cache_path: Path
) -> None:
    """httpcore's pool looks at every queued request on each event: 1000 queued in it
    held the loop 2.6 s (its own CPU time). They now queue for a free connection in
    AsyncOpenAPI; the bound here is loose, for a loaded machine (measured: ~35 ms)."""
    oauth = fake.oauth2(cache_path=cache_path, resolve=False)  # the store is empty
    async with AsyncOpenAPI(oauth) as api, heartbeat() as gaps:
        answers = await asyncio.gather(*(api.list_projects() for _ in range(1000)))
    assert answers == [[]] * 1000
    assert fake.token_requests == 1
    assert max(gaps) < 0.5, f"the loop was blocked for {max(gaps) * 1000:.0f} ms"
