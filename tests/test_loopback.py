"""The one-shot loopback receiver."""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from helpers import assert_port_free, clean_env, free_port, run_cli

from ticktick import AuthorizationTimeout, LoopbackPortInUse, StateMismatch
from ticktick.signon.loopback import (
    LoopbackReceiver,
    RedirectResult,
    loopback_address,
    loopback_addresses,
)
from ticktick.testing import FakeTickTick

STATE = "the-right-state"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:8080/", ("127.0.0.1", 8080, "/")),
        ("http://localhost:8080", ("127.0.0.1", 8080, "/")),
        ("http://[::1]:9000/cb", ("::1", 9000, "/cb")),
        ("http://127.0.0.2/x", ("127.0.0.2", 80, "/x")),
        # a trailing dot names the same host, in a browser too
        ("http://localhost.:8080/", ("127.0.0.1", 8080, "/")),
        ("http://127.0.0.1.:8080/", ("127.0.0.1", 8080, "/")),
        ("https://127.0.0.1:8080/", None),
        ("http://192.168.1.5:8080/", None),
        ("http://example.org:8080/", None),
    ],
)
def test_loopback_address(uri: str, expected: tuple[str, int, str] | None) -> None:
    assert loopback_address(uri) == expected


def test_non_loopback_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="not an http:// loopback"):
        LoopbackReceiver("http://0.0.0.0:8080/", STATE)


def test_other_paths_get_404_and_do_not_end_the_wait() -> None:
    port = free_port()
    with LoopbackReceiver(f"http://127.0.0.1:{port}/callback", STATE) as receiver:
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/favicon.ico", timeout=5).status_code == 404
        assert requests.get(f"{base}/callback", timeout=5).status_code == 404  # no code
        assert requests.get(f"{base}/other?code=x&state={STATE}", timeout=5).status_code == 404
        assert requests.head(f"{base}/", timeout=5).status_code == 404
        assert not receiver.done
        answer = requests.get(f"{base}/callback?code=c0de&state={STATE}", timeout=5)
        assert answer.status_code == 200
        assert "Authorization complete" in answer.text
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cache-Control"] == "no-store"
        assert receiver.wait(1) == RedirectResult(code="c0de")
        again = requests.get(f"{base}/callback?code=c0de2&state={STATE}", timeout=5)
        assert again.status_code == 409
    assert_port_free(port)


def test_wrong_state_is_refused_and_the_real_redirect_still_works() -> None:
    port = free_port()
    with LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE) as receiver:
        forged = requests.get(f"http://127.0.0.1:{port}/?code=evil&state=forged", timeout=5)
        assert forged.status_code == 400
        assert "does not belong" in forged.text
        assert not receiver.done
        requests.get(f"http://127.0.0.1:{port}/?code=good&state={STATE}", timeout=5)
        assert receiver.wait(1).code == "good"


def test_only_wrong_states_then_timeout_is_a_state_mismatch() -> None:
    port = free_port()
    with LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE) as receiver:
        requests.get(f"http://127.0.0.1:{port}/?code=evil&state=forged", timeout=5)
        with pytest.raises(StateMismatch, match="1 redirect"):
            receiver.wait(0.2)


def test_error_page_escapes_what_it_shows() -> None:
    port = free_port()
    with LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE) as receiver:
        answer = requests.get(
            f"http://127.0.0.1:{port}/",
            params={"error": "<script>x</script>", "state": STATE},
            timeout=5,
        )
        assert "<script>" not in answer.text
        assert "&lt;script&gt;" in answer.text
        assert receiver.wait(1).error == "<script>x</script>"


def test_timeout_fires_and_frees_the_port() -> None:
    port = free_port()
    started = time.monotonic()
    with (
        pytest.raises(AuthorizationTimeout, match=f"http://127.0.0.1:{port}/"),
        LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE) as receiver,
    ):
        receiver.wait(0.3)
    assert time.monotonic() - started < 30  # it returned at all: no hang
    assert_port_free(port)


def test_busy_port_names_the_port_and_does_not_hang() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(LoopbackPortInUse) as caught:
            LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE).start()
        message = str(caught.value)
        assert f"Port {port}" in message
        assert "lsof" in message


def test_ctrl_c_frees_the_port() -> None:
    port = free_port()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with (
            pytest.raises(KeyboardInterrupt),
            LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE) as receiver,
        ):
            receiver.wait(30)
    finally:
        timer.cancel()
    assert_port_free(port)


def test_no_access_log(capfd: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    with LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE) as receiver:
        requests.get(f"http://127.0.0.1:{port}/?code=SECRETCODE&state={STATE}", timeout=5)
        receiver.wait(1)
        with socket.create_connection(("127.0.0.1", port)) as raw:  # a malformed request
            raw.sendall(b"NONSENSE /?code=SECRETCODE\r\n\r\n")
            raw.recv(1024)
    captured = capfd.readouterr()
    assert "SECRETCODE" not in captured.out + captured.err
    assert "SECRETCODE" not in repr(receiver.result)


def test_ipv6_loopback() -> None:
    port = free_port(socket.AF_INET6, "::1")
    with LoopbackReceiver(f"http://[::1]:{port}/", STATE) as receiver:
        assert receiver.address == "::1"
        requests.get(f"http://[::1]:{port}/?code=six&state={STATE}", timeout=5)
        assert receiver.wait(1).code == "six"
    assert_port_free(port, socket.AF_INET6, "::1")


def _port_free_on_both_loopbacks() -> int:
    """A port free on 127.0.0.1 and on [::1] (skips where there is no IPv6 loopback)."""
    for _ in range(20):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                pytest.skip(f"no IPv6 loopback here ({exc.strerror})")
            continue
        return port
    raise AssertionError("no port free on both loopbacks")


def test_localhost_is_received_on_both_loopbacks() -> None:
    """A browser may take localhost to [::1] first (Chromium does): login listens there too."""
    port = _port_free_on_both_loopbacks()
    redirect = f"http://localhost:{port}/"
    assert loopback_addresses(redirect) == ("127.0.0.1", "::1")
    assert loopback_addresses(f"http://127.0.0.1:{port}/") == ("127.0.0.1",)
    with LoopbackReceiver(redirect, STATE) as receiver:
        assert receiver.addresses == ("127.0.0.1", "::1")
        assert requests.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=5).status_code == 404
        requests.get(f"http://[::1]:{port}/?code=six&state={STATE}", timeout=5)
        assert receiver.wait(1).code == "six"
    assert_port_free(port)
    assert_port_free(port, socket.AF_INET6, "::1")


class _Rogue:
    """Another program listening on [::1]:PORT, keeping whatever it is sent."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET6)
        self.sock.bind(("::1", port))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.got: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.closed = threading.Event()
        self.thread.start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                self.got.append(conn.recv(65536))

    def close(self) -> None:
        self.closed.set()
        self.thread.join(5)
        self.sock.close()


def test_localhost_is_refused_while_another_program_has_the_ipv6_loopback_port() -> None:
    port = _port_free_on_both_loopbacks()
    rogue = _Rogue(port)
    try:
        with pytest.raises(LoopbackPortInUse, match=rf"Port {port} on \[::1\] is in use"):
            LoopbackReceiver(f"http://localhost:{port}/", STATE).start()
        assert_port_free(port)  # the IPv4 half is not left bound
    finally:
        rogue.close()


@pytest.mark.timeout(60)
def test_login_on_localhost_stops_before_the_browser_while_ipv6_loopback_is_taken(
    tmp_path: Path,
) -> None:
    """The program on [::1]:P would get the code from a browser that tries [::1] first:
    login says so and never prints the authorization URL."""
    port = _port_free_on_both_loopbacks()
    redirect = f"http://localhost:{port}/"
    rogue = _Rogue(port)
    try:
        with FakeTickTick(redirect_uris=[redirect], auto_approve=True) as fake:
            ran = run_cli(
                *("login", "--host", fake.url, "--client-id", fake.client_id),
                *("--redirect-uri", redirect, "--no-browser", "--timeout", "10"),
                *("--cache-path", str(tmp_path / "tok")),
                env=clean_env(TICKTICK_CLIENT_SECRET=fake.client_secret),
                cwd=tmp_path,
            )
    finally:
        rogue.close()
    assert ran.returncode == 1, ran
    assert f"Port {port} on [::1] is in use by another program" in ran.stderr
    assert "/oauth/authorize?" not in ran.stderr + ran.stdout
    assert rogue.got == []


def test_connections_beyond_the_cap_are_closed() -> None:
    port = free_port()
    with LoopbackReceiver(f"http://127.0.0.1:{port}/", STATE) as receiver:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        try:
            time.sleep(0.5)  # the server accepts all 20 and closes those beyond the cap
            readable, _, _ = select.select(idle, [], [], 0)
            closed = sum(1 for sock in readable if sock.recv(1) == b"")
            assert closed >= 4  # 20 idle connections, at most 16 served at once
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)
        requests.get(f"http://127.0.0.1:{port}/?code=late&state={STATE}", timeout=15)
        assert receiver.wait(1).code == "late"


def test_the_page_is_answered_before_the_wait_ends() -> None:
    """The waiter closes the receiver as soon as the redirect is taken; the browser must
    still get its page. With threads switching as often as possible and three threads
    competing for the interpreter, ending the wait before answering lost the page in
    about 1 of 20 sign-ons (found by a CI-load failure of a CLI test)."""
    old_interval = sys.getswitchinterval()
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(1000))

    burners = [threading.Thread(target=burn) for _ in range(3)]
    sys.setswitchinterval(1e-6)
    for burner in burners:
        burner.start()
    pages = []
    try:
        for _ in range(40):
            uri = f"http://127.0.0.1:{free_port()}/cb"
            receiver = LoopbackReceiver(uri, "the-state").start()

            def wait_then_close(receiver: LoopbackReceiver = receiver) -> None:
                receiver.wait(10)
                receiver.close()

            waiter = threading.Thread(target=wait_then_close)
            waiter.start()
            try:
                answer = requests.get(f"{uri}?code=abcd&state=the-state", timeout=5)
                pages.append(answer.status_code == 200 and b"complete" in answer.content)
            except requests.RequestException:
                pages.append(False)
            waiter.join()
    finally:
        stop.set()
        sys.setswitchinterval(old_interval)
        for burner in burners:
            burner.join()
    assert all(pages), f"{pages.count(False)} of 40 browsers got no page"
