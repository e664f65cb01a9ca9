"""Deadlines that hold for the whole exchange, against hostile raw-socket servers.

Issue 11, section 1: the token request and every Open API call end within their
timeouts whatever the server does (trickled headers, ``100 Continue`` forever, a TLS
handshake that never ends); timeouts that would wait forever are refused at once; a
failure before the request was written says the code was never sent; the loopback
receiver serves each connection for a bounded total time, and slow clients cannot
keep the real redirect out.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import urllib3
from helpers import free_port
from hostile import Connection, Handler, HostileServer

from ticktick import OAuth2, OpenAPI, requests_retry_session
from ticktick._deadline import Deadline
from ticktick.errors import ConfigurationError, TransportError
from ticktick.signon.loopback import LoopbackReceiver
from ticktick.testing import FakeTickTick

CODE = "code-7f3a9c1e2b"
CLIENT_ID = "client-id-42"
SECRET = "client-secret-5d8e"
BASIC = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
OLD_HANG = 30.0  # every hostile server below would hold the old code for minutes


def oauth_for(host: str, timeout: tuple[float, float] = (2.0, 2.0)) -> OAuth2:
    """A client whose sign-on yields CODE at once, for the token endpoint at *host*."""
    return OAuth2(
        CLIENT_ID,
        SECRET,
        "http://127.0.0.1:8080/",
        host=host,
        cache_path=None,
        authorizer=lambda request: CODE,
        resolve=False,
        timeout=timeout,
    )


def assert_secret_free(error: BaseException) -> None:
    text = str(error)
    for secret in (CODE, SECRET, BASIC):
        assert secret not in text


def sign_on_fails(oauth: OAuth2) -> tuple[TransportError, float]:
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        oauth.get_access_token()
    assert_secret_free(caught.value)
    return caught.value, time.monotonic() - started


# -- hostile servers ------------------------------------------------------------------


def trickled_headers(conn: Connection) -> None:
    conn.read_request()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 300
    conn.trickle(head + b"\r\n\r\n{}", every=1.0)


def continue_forever(conn: Connection) -> None:
    conn.read_request()
    conn.repeat(b"HTTP/1.1 100 Continue\r\n\r\n", every=1.0)


def tls_garbage(conn: Connection) -> None:
    conn.sock.recv(4096)  # the ClientHello
    conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conn.hold()


def tls_trickle(conn: Connection) -> None:
    conn.sock.recv(4096)  # the ClientHello; then a 16 KB handshake record, a byte at a time
    conn.trickle(b"\x16\x03\x03\x40\x00" + b"\x02" * 16384, every=0.5)


# -- 1. one deadline for the whole answer -----------------------------------------------


@pytest.mark.timeout(OLD_HANG)
@pytest.mark.parametrize("handler", [trickled_headers, continue_forever])
def test_token_request_ends_within_its_read_timeout(handler: Handler) -> None:
    with HostileServer(handler) as server:
        error, took = sign_on_fails(oauth_for(server.url))
    assert "did not answer in time" in str(error)
    assert "may have been used" in str(error)  # the code went out
    assert took < 2.0 + 1.0  # read timeout + the documented slack
    assert len(server.requests) == 1  # and it was not sent twice


@pytest.fixture
def token_fake() -> Iterator[FakeTickTick]:
    with FakeTickTick() as fake:
        yield fake


def api_at(fake: FakeTickTick, url: str, session: requests.Session | None = None) -> OpenAPI:
    """The Open API at *url*, with a token from *fake*; timeouts (2, 1), retries at once."""
    oauth = fake.oauth2(cache_path=None, timeout=(2.0, 1.0))
    oauth.session = requests_retry_session(backoff_factor=0, timeout=(2.0, 1.0))
    return OpenAPI(oauth, base_url=f"{url}/open/v1", session=session)


@pytest.mark.timeout(OLD_HANG)
@pytest.mark.parametrize("handler", [trickled_headers, continue_forever])
def test_api_calls_end_within_their_read_timeout(
    token_fake: FakeTickTick, handler: Handler
) -> None:
    with HostileServer(handler) as server:
        api = api_at(token_fake, server.url)
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"did not answer in time.*may have been"):
            api.create_task("inbox", "milk")  # a POST: one attempt
        assert time.monotonic() - started < 1.0 + 1.0
        started = time.monotonic()
        with pytest.raises(TransportError, match="did not answer in time"):
            api.list_projects()  # a GET: retried 3 times, each attempt under the deadline
        assert time.monotonic() - started < 4 * (1.0 + 1.0)
        assert len(server.requests) == 1 + 4


@pytest.mark.timeout(OLD_HANG)
def test_the_body_is_read_under_the_same_deadline_not_a_fresh_one(
    token_fake: FakeTickTick,
) -> None:
    """Headers at 0.7 s, then a body trickled for 0.7 s: 1.4 s in all, over the 1 s allowed.

    Each part alone is within the read timeout; the old code gave the body a fresh one.
    """

    def slow_then_trickle(conn: Connection) -> None:
        conn.read_request()
        conn.hold(0.7)
        body = b'{"id": "t1", "x": 0}'
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        conn.trickle(body, every=0.05)

    with HostileServer(slow_then_trickle) as server:
        api = api_at(token_fake, server.url)
        with pytest.raises(TransportError, match="did not answer in time"):
            api.create_task("inbox", "milk")


def test_a_pooled_connection_is_not_cut_while_idle(token_fake: FakeTickTick) -> None:
    def keep_alive(conn: Connection) -> None:
        for _ in range(2):
            conn.read_request()
            conn.respond(200, b"[]", headers={"Connection": "keep-alive"})

    with HostileServer(keep_alive) as server:
        api = api_at(token_fake, server.url)
        assert api.list_projects() == []
        time.sleep(1.5)  # longer than the read timeout (1 s)
        assert api.list_projects() == []
    assert server.connections == 1  # the same connection, still open


@pytest.mark.timeout(OLD_HANG)
def test_a_session_of_the_callers_own_keeps_the_body_deadline(token_fake: FakeTickTick) -> None:
    def trickled_body(conn: Connection) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        conn.trickle(b"[" + b" " * 98 + b"]", every=0.2)

    with HostileServer(trickled_body) as server:
        api = api_at(token_fake, server.url, session=requests.Session())
        with pytest.raises(TransportError, match="did not answer in time"):
            api.create_task("inbox", "milk")


@pytest.mark.timeout(OLD_HANG)
def test_connecting_has_one_deadline_for_the_tls_handshake() -> None:
    with HostileServer(tls_trickle) as server:
        error, took = sign_on_fails(oauth_for(f"https://127.0.0.1:{server.port}"))
    assert "never sent" in str(error)
    assert "code was not used" in str(error)
    assert isinstance(error.__cause__, requests.ConnectTimeout)
    assert server.connections == 3  # never sent, so retried: 3 attempts of 2 s, 1 s apart
    assert took < 3 * (2.0 + 1.0) + 1.0


def test_deadline_cuts_a_blocked_receive_and_cancel_is_final() -> None:
    left, right = socket.socketpair()
    with left, right:
        deadline = Deadline(0.3, left)
        started = time.monotonic()
        assert left.recv(1) == b""  # shut down: the receive ends
        assert time.monotonic() - started < 0.3 + 1.0
        assert deadline.expired
        deadline.cancel()
        assert deadline.expired  # what happened stays known
    left, right = socket.socketpair()
    with left, right:
        deadline = Deadline(0.1, left)
        deadline.cancel()
        time.sleep(0.3)
        right.sendall(b"x")
        assert left.recv(1) == b"x"  # never cut
        assert not deadline.expired
        late = Deadline(0.0)
        time.sleep(0.1)
        late.attach(left)  # attached after its time: shut down at once
        assert left.recv(1) == b""


def test_deadline_expire_now() -> None:
    left, right = socket.socketpair()
    with left, right:
        deadline = Deadline(3600, left)
        deadline.expire()
        assert deadline.expired
        assert left.recv(1) == b""
    closed = socket.socket()
    closed.close()
    Deadline(0.0, closed).expire()  # a closed socket: nothing is blocked on it, nothing to cut


def test_cancelled_deadlines_do_not_pile_up() -> None:
    from ticktick._deadline import _WATCHDOG

    for _ in range(5000):
        Deadline(3600).cancel()  # as 5,000 requests answered in time
    assert len(_WATCHDOG._heap) < 2100


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_deadlines_fire_in_a_forked_child() -> None:
    Deadline(0.01)  # the parent's watchdog thread runs; a child has none until it needs one
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        left, _right = socket.socketpair()  # the other end stays open and silent
        left.settimeout(5.0)
        Deadline(0.1, left)
        try:
            os._exit(0 if left.recv(1) == b"" else 1)
        except OSError:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -- 2. timeouts that would wait forever are refused at construction --------------------

FOREVER = [None, (5, None), (None, 5), math.nan, (5, math.nan), math.inf, (math.inf, 5)]
BROKEN = [-1, 0, (0, 5), (5, -2), "30", True, (1, 2, 3), [5, 5], 10**7]


@pytest.mark.parametrize("timeout", FOREVER + BROKEN)
def test_unusable_timeouts_are_refused_before_any_code_is_spent(timeout: object) -> None:
    asked: list[object] = []
    with pytest.raises(ConfigurationError, match=r"timeout=.*cannot work.*Nothing here waits"):
        OAuth2(
            "id",
            "secret",
            "http://127.0.0.1:8080/",
            cache_path=None,
            authorizer=asked.append,  # type: ignore[arg-type]
            timeout=timeout,  # type: ignore[arg-type]
        )
    assert asked == []  # refused before the sign-on: no code was spent
    with pytest.raises(ConfigurationError, match="cannot work"):
        requests_retry_session(timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [None, math.nan, math.inf, -1, 0, (10, 30), "300", 10**7])
def test_a_sign_on_that_could_wait_forever_is_refused(seconds: object) -> None:
    asked: list[object] = []
    with pytest.raises(ConfigurationError, match=r"signon_timeout=.*cannot work"):
        OAuth2(
            "id",
            "secret",
            "http://127.0.0.1:8080/",
            cache_path=None,
            authorizer=asked.append,  # type: ignore[arg-type]
            signon_timeout=seconds,  # type: ignore[arg-type]
        )
    assert asked == []


@pytest.mark.parametrize("timeout", [t for t in FOREVER + BROKEN if t is not None])
def test_unusable_api_timeouts_are_refused(fake: FakeTickTick, timeout: object) -> None:
    oauth = fake.oauth2(cache_path=None)
    with pytest.raises(ConfigurationError, match="cannot work"):
        OpenAPI(oauth, timeout=timeout)  # type: ignore[arg-type]
    assert OpenAPI(oauth, timeout=None).timeout == oauth.timeout  # None: the client's own


def test_a_request_through_the_session_may_not_wait_forever(fake: FakeTickTick) -> None:
    session = requests_retry_session()
    with pytest.raises(ConfigurationError, match="cannot work"):
        session.get(f"{fake.url}/x", timeout=(5, None))
    assert session.get(f"{fake.url}/x", timeout=None).status_code == 404  # the default
    given = urllib3.Timeout(5, read=5)  # used as given, as requests does
    assert session.get(f"{fake.url}/x", timeout=given).status_code == 404  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [5, 2.5, (3, 30), (0.5, 86400)])
def test_usable_timeouts_are_kept(timeout: object) -> None:
    oauth = OAuth2(
        "id",
        "s",
        "http://127.0.0.1:8080/",
        cache_path=None,
        resolve=False,
        timeout=timeout,  # type: ignore[arg-type]
    )
    assert oauth.timeout == timeout


# -- 3. failures before the request was written: "never sent" -------------------------


@pytest.mark.timeout(OLD_HANG)
def test_tls_garbage_is_never_sent_and_the_code_still_good() -> None:
    with HostileServer(tls_garbage) as server:
        error, _ = sign_on_fails(oauth_for(f"https://127.0.0.1:{server.port}"))
    message = str(error)
    assert "TLS handshake failed" in message
    assert "never sent" in message
    assert "code was not used" in message
    assert "may have been used" not in message
    assert isinstance(error.__cause__, requests.exceptions.SSLError)  # shown by --debug
    assert server.requests == []  # no HTTP request reached it


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(folder / "key.pem"),
         "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


@pytest.mark.timeout(OLD_HANG)
def test_an_untrusted_certificate_is_never_sent(self_signed: ssl.SSLContext) -> None:
    def tls_server(conn: Connection) -> None:
        with self_signed.wrap_socket(conn.sock, server_side=True) as tls:
            tls.recv(4096)

    with HostileServer(tls_server) as server:
        error, _ = sign_on_fails(oauth_for(f"https://127.0.0.1:{server.port}"))
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert "never sent" in str(error)
    assert isinstance(error.__cause__, requests.exceptions.SSLError)


@pytest.mark.timeout(OLD_HANG)
def test_a_proxy_refusing_connect_is_never_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(conn: Connection) -> None:
        conn.read_request()
        conn.respond(403, reason="Forbidden")

    with HostileServer(refuse) as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        error, _ = sign_on_fails(oauth_for("https://ticktick-proxy-test.invalid"))
    assert "proxy failed" in str(error)
    assert "403" in str(error)
    assert "never sent" in str(error)
    assert isinstance(error.__cause__, requests.exceptions.ProxyError)
    assert [r.method for r in proxy.requests] == ["CONNECT"]


def test_a_connection_refused_is_never_sent() -> None:
    with HostileServer(lambda conn: None) as gone:
        url = gone.url
    error, _ = sign_on_fails(oauth_for(url))
    assert "never sent" in str(error)
    assert isinstance(error.__cause__, requests.ConnectionError)


@pytest.mark.timeout(OLD_HANG)
def test_a_server_echoing_secrets_after_sending_is_not_chained() -> None:
    """After sending, the cause may quote the server, which has every secret: not chained."""

    def echo_in_status_line(conn: Connection) -> None:
        request = conn.read_request()
        conn.send(b"HTTP/1.1 " + request.raw.replace(b"\r\n", b" ") + b"\r\n\r\n")

    with HostileServer(echo_in_status_line) as server:
        error, _ = sign_on_fails(oauth_for(server.url))
    assert "may have been used" in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


@pytest.mark.timeout(OLD_HANG)
def test_api_failure_before_sending_says_never_sent(token_fake: FakeTickTick) -> None:
    with HostileServer(tls_garbage) as server:
        api = api_at(token_fake, f"https://127.0.0.1:{server.port}")
        with pytest.raises(TransportError, match="never sent") as caught:
            api.create_task("inbox", "milk")
    assert "may have been applied" not in str(caught.value)
    assert isinstance(caught.value.__cause__, requests.exceptions.SSLError)


# -- 4. the loopback receiver: bounded total time, and room for the real redirect -------

STATE = "state-for-the-real-redirect"


class Trickler(threading.Thread):
    """A local client sending a request line one byte every *every* seconds, forever."""

    def __init__(self, port: int, every: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.every = every
        self.started = time.monotonic()
        self.cut_after: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        line = b"GET /callback?code=evil&state=" + STATE.encode() + b"&pad=" + b"x" * 500
        self.sock.settimeout(self.every)
        with self.sock:
            for byte in line:
                if self.stop.is_set():
                    return
                try:
                    self.sock.sendall(bytes([byte]))
                    if self.sock.recv(1) == b"":
                        break  # the server hung up
                except TimeoutError:
                    continue  # nothing from the server: send the next byte
                except OSError:
                    break
            self.cut_after = time.monotonic() - self.started


@pytest.mark.timeout(60)
def test_sixteen_tricklers_cannot_keep_the_redirect_out() -> None:
    """The issue's case, with the defaults: 16 slots, 10 s per connection in all."""
    port = free_port()
    with LoopbackReceiver(f"http://127.0.0.1:{port}/callback", STATE) as receiver:
        tricklers = [Trickler(port, every=5.0) for _ in range(16)]
        for trickler in tricklers:
            trickler.start()
        time.sleep(1.0)  # all 16 are being served now
        answer = requests.get(
            f"http://127.0.0.1:{port}/callback", params={"code": CODE, "state": STATE}, timeout=5
        )
        assert answer.status_code == 200
        assert receiver.wait(1).code == CODE
        for trickler in tricklers:
            trickler.join(10.0 + 5.0)
        # One was cut at once to make room; every other one after 10 s in all.
        cut = sorted(t.cut_after for t in tricklers if t.cut_after is not None)
        assert len(cut) == 16
        assert cut[0] < 2.0
        assert cut[-1] < 10.0 + 1.0
    for trickler in tricklers:
        trickler.stop.set()


@pytest.mark.timeout(60)
def test_each_connection_is_served_for_a_bounded_total_time() -> None:
    port = free_port()
    receiver = LoopbackReceiver(f"http://127.0.0.1:{port}/callback", STATE, connection_timeout=2.0)
    with receiver:
        trickler = Trickler(port, every=1.0)  # each wait is under 2 s; the total is not
        trickler.start()
        trickler.join(2.0 + 5.0)
        assert trickler.cut_after is not None
        assert trickler.cut_after < 2.0 + 1.0
        assert not receiver.done  # a request cut short never counts


@pytest.mark.timeout(60)
def test_close_does_not_wait_for_slow_clients() -> None:
    port = free_port()
    receiver = LoopbackReceiver(f"http://127.0.0.1:{port}/callback", STATE).start()
    tricklers = [Trickler(port, every=1.0) for _ in range(4)]
    for trickler in tricklers:
        trickler.start()
    time.sleep(0.5)
    started = time.monotonic()
    receiver.close()
    assert time.monotonic() - started < 2.0
    for trickler in tricklers:
        trickler.join(5.0)
        assert trickler.cut_after is not None
