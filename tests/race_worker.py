"""A worker process for the sharing tests: N threads, each with its own OAuth2, race.

Each thread builds an OAuth2 on the chosen store, waits for the start signal (a
file appearing), and asks for a token; it prints one JSON line with the token and
where it came from (or the error). The authorizer clicks Allow on the fake server,
after an optional delay; with --hang it blocks forever instead (to be killed).

    python race_worker.py STORE LOCATION FAKE_URL THREADS GO_FILE [options]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from ticktick import AuthorizationRequest, OAuth2
from ticktick.stores import FileStore, TokenStore
from ticktick.testing import approve


def make_store(kind: str, location: str, lock_ttl: float) -> TokenStore:
    if kind == "file":
        return FileStore(location)
    from ticktick.stores.redis import RedisStore

    return RedisStore(location, lock_ttl=lock_ttl, timeout=5)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("store", choices=("file", "redis"))
    parser.add_argument("location")
    parser.add_argument("fake_url")
    parser.add_argument("threads", type=int)
    parser.add_argument("go_file")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds the person takes")
    parser.add_argument("--hang", action="store_true", help="never finish authorizing")
    parser.add_argument("--marker", help="file created when authorizing starts")
    parser.add_argument("--lock-ttl", type=float, default=30.0)
    args = parser.parse_args()

    def authorizer(request: AuthorizationRequest) -> str:
        if args.marker:
            Path(args.marker).write_text("authorizing")
        while args.hang:
            time.sleep(1)
        time.sleep(args.delay)
        return approve(request)

    lock = threading.Lock()

    def run() -> None:
        try:
            oauth = OAuth2(
                "fake-client-id",
                "fake-client-secret",
                "http://127.0.0.1:8080/",
                host=args.fake_url,
                store=make_store(args.store, args.location, args.lock_ttl),
                authorizer=authorizer,
                resolve=False,
                signon_timeout=60,
            )
            while not Path(args.go_file).exists():
                time.sleep(0.005)
            line = {"token": oauth.get_access_token(), "source": oauth.token_source}
        except Exception as exc:
            line = {"error": f"{type(exc).__name__}: {exc}"}
        with lock:
            print(json.dumps(line), flush=True)

    threads = [threading.Thread(target=run) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
