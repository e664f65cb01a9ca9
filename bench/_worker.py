"""One measured task, run with the Python of a benchmark venv (ours or ticktick-py's).

Both packages are imported as ``ticktick``, so each runs in its own venv; this
script adapts to the one it finds. It prints JSON on standard output.

    _worker.py hot IMPL CALLS THREADS             (in a folder with .token-oauth)
    _worker.py contend IMPL FAKE_URL THREADS GO_FILE CACHE
    _worker.py authorize IMPL FAKE_URL CACHE

For ticktick-py, the person's part is played by patching its two edges, the
browser and ``input()``: the "browser" follows the authorize URL on the
auto-approving fake server and "pastes" where it was sent. Its class URLs are
pointed at the fake server.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

CLIENT = ("fake-client-id", "fake-client-secret", "http://127.0.0.1:8080/")


def make_client(impl: str, fake_url: str | None, cache: str) -> Any:
    if impl == "ours":
        from ticktick import OAuth2
        from ticktick.testing import approve

        host = fake_url or "ticktick.com"
        return OAuth2(*CLIENT, cache_path=cache, host=host, authorizer=approve)
    return _legacy().OAuth2(*CLIENT, cache_path=cache)


def _legacy() -> Any:
    """ticktick-py's oauth2 module (same import name as ours, so typed loosely)."""
    import importlib

    return importlib.import_module("ticktick.oauth2")


def patch_ticktick_py(fake_url: str) -> None:
    import builtins
    import webbrowser

    import requests

    legacy = _legacy().OAuth2
    legacy.OAUTH_AUTHORIZE_URL = f"{fake_url}/oauth/authorize"
    legacy.OBTAIN_TOKEN_URL = f"{fake_url}/oauth/token"
    opened: dict[int, str] = {}

    def browser(url: str, *args: object, **kwargs: object) -> bool:
        opened[threading.get_ident()] = url
        return True

    def person(prompt: object = "") -> str:
        url = opened[threading.get_ident()]
        return str(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])

    webbrowser.open = browser
    builtins.input = person


def hot(impl: str, calls: int, threads: int) -> dict[str, float]:
    client = make_client(impl, None, ".token-oauth")
    get = client.get_access_token
    get()
    started = time.perf_counter_ns()
    for _ in range(calls):
        get()
    single = (time.perf_counter_ns() - started) / calls
    per_thread = calls // threads
    barrier = threading.Barrier(threads + 1)

    def run() -> None:
        barrier.wait()
        for _ in range(per_thread):
            get()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter_ns()
    for worker in workers:
        worker.join()
    threaded = (time.perf_counter_ns() - started) / (per_thread * threads)
    return {"single_ns": single, "threads_ns": threaded}


def contend(impl: str, fake_url: str, threads: int, go: str, cache: str) -> list[dict[str, Any]]:
    if impl != "ours":
        patch_ticktick_py(fake_url)
    lines: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run() -> None:
        while not Path(go).exists():
            time.sleep(0.001)
        try:
            client = make_client(impl, fake_url, cache)
            line: dict[str, Any] = {"token": client.get_access_token(), "done": time.time()}
        except Exception as exc:
            line = {"error": type(exc).__name__, "done": time.time()}
        with lock:
            lines.append(line)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return lines


def authorize(impl: str, fake_url: str, cache: str) -> dict[str, Any]:
    if impl != "ours":
        patch_ticktick_py(fake_url)
    started = time.perf_counter()
    try:
        make_client(impl, fake_url, cache).get_access_token()
        ok, error = True, None
    except Exception as exc:
        ok, error = False, type(exc).__name__
    return {"ok": ok, "error": error, "seconds": time.perf_counter() - started}


def main(argv: list[str]) -> int:
    task, impl = argv[1], argv[2]
    if task == "hot":
        result: object = hot(impl, int(argv[3]), int(argv[4]))
    elif task == "contend":
        result = contend(impl, argv[3], int(argv[4]), argv[5], argv[6])
    else:
        result = authorize(impl, argv[3], argv[4])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
