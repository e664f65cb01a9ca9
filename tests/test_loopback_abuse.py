"""The loopback receiver under abuse, with raw sockets: it stays up, answers the real
callback afterwards, and finishes within its timeout."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from helpers import free_port

from ticktick.signon.loopback import LoopbackReceiver

STATE = "the-real-state"


def send_raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        try:
            conn.sendall(data)
        except OSError:
            return b""  # the server closed on us mid-send: fine
        if not read:
            return b""
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


@pytest.fixture
def receiver() -> Iterator[LoopbackReceiver]:
    port = free_port()
    receiver = LoopbackReceiver(
        f"http://127.0.0.1:{port}/callback", STATE, connection_timeout=1.0, max_connections=8
    )
    receiver.start()
    yield receiver
    receiver.close()


def real_callback(receiver: LoopbackReceiver) -> None:
    answer = requests.get(
        f"http://127.0.0.1:{receiver.port}/callback",
        params={"code": "the-code", "state": STATE},
        timeout=10,
    )
    assert answer.status_code == 200
    assert receiver.wait(5).code == "the-code"


def test_random_bytes(receiver: LoopbackReceiver) -> None:
    for seed in range(20):
        reply = send_raw(receiver.port, os.urandom(1000 + seed * 97))
        # An HTTP/0.9-looking line gets the standard library's bare error page.
        assert not reply or reply.startswith((b"HTTP/", b"<!DOCTYPE HTML>"))
    assert not receiver.done
    real_callback(receiver)


def test_megabyte_request_line(receiver: LoopbackReceiver) -> None:
    line = b"GET /callback?code=" + b"A" * (1024 * 1024) + b"&state=" + STATE.encode()
    reply = send_raw(receiver.port, line + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply == b"" or reply.startswith(b"HTTP/1.0 414") or reply.startswith(b"HTTP/1.1 414")
    assert not receiver.done
    real_callback(receiver)


def test_headers_without_end(receiver: LoopbackReceiver) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as conn:
        conn.sendall(b"GET /callback?code=evil&state=" + STATE.encode() + b" HTTP/1.1\r\n")
        try:
            for _ in range(200):
                conn.sendall(b"X-Filler: " + b"y" * 100 + b"\r\n")
                time.sleep(0.01)
            conn.recv(1)  # the server ends it: too many headers, or the connection timeout
        except OSError:
            pass
    assert time.monotonic() - started < 10
    assert not receiver.done  # an unfinished request never counts
    real_callback(receiver)


def test_many_connections_held_open(receiver: LoopbackReceiver) -> None:
    idle = [socket.create_connection(("127.0.0.1", receiver.port)) for _ in range(40)]
    try:
        for conn in idle:
            conn.sendall(b"GET /callback?code=never")  # and never finish
        time.sleep(receiver.connection_timeout + 0.5)  # every slot is freed by its timeout
        real_callback(receiver)
    finally:
        for conn in idle:
            conn.close()


def test_other_path_wrong_state_and_second_callback(receiver: LoopbackReceiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    assert requests.get(f"{base}/favicon.ico", timeout=5).status_code == 404
    assert requests.get(f"{base}/callback?code=x&state=wrong", timeout=5).status_code == 400
    real_callback(receiver)
    second = requests.get(f"{base}/callback?code=again&state={STATE}", timeout=5)
    assert second.status_code == 409
    assert receiver.result is not None
    assert receiver.result.code == "the-code"


def test_finishes_within_its_timeout_under_abuse(receiver: LoopbackReceiver) -> None:
    stop = threading.Event()

    def abuse() -> None:
        while not stop.is_set():
            send_raw(receiver.port, os.urandom(200), read=False)

    attackers = [threading.Thread(target=abuse, daemon=True) for _ in range(4)]
    for attacker in attackers:
        attacker.start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            receiver.wait(1.5)
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join(5)
    assert time.monotonic() - started < 5
