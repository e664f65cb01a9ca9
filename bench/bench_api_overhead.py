"""Authorized-request overhead: the client against a bare requests.Session, same run.

Sends N authorized GETs (2,000 by default) to ``/open/v1/project`` on the fake
TickTick server three ways, in interleaved blocks so that drift in machine load
hits all of them equally:

* ``bare session``: ``requests.Session`` with a fixed ``Authorization`` header;
* ``TickTickAuth``: ``oauth.session`` (the retrying session) with ``auth=TickTickAuth``;
* ``OpenAPI.list_projects``: the Open API client (errors mapped, JSON decoded).

All three decode the JSON answer. Prints the median time per request in each block
and the ratios to the bare session (goal for the client: within 1.05x).

    python bench/bench_api_overhead.py [--requests 2000] [--block 100] [--json]

``bench/compare.py`` runs it with the Python of each benchmark venv (``--json``), so
that the installed package is measured, as in the other measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import requests

from ticktick import OpenAPI, TickTickAuth
from ticktick.testing import FakeTickTick


def blocks(count: int = 2000, block: int = 100) -> dict[str, list[float]]:
    """Run the three ways in interleaved blocks; microseconds per request in each block."""
    with FakeTickTick() as fake:
        oauth = fake.oauth2(cache_path=None)
        token = oauth.get_access_token()
        url = f"{fake.url}/open/v1/project"
        bare = requests.Session()
        bare.headers["Authorization"] = f"Bearer {token}"
        auth = TickTickAuth(oauth)
        api = OpenAPI(oauth)
        ways: dict[str, Callable[[], object]] = {
            "bare session": lambda: bare.get(url, timeout=30).json(),
            "TickTickAuth": lambda: oauth.session.get(url, auth=auth).json(),
            "OpenAPI.list_projects": api.list_projects,
        }
        for call in ways.values():  # warm up connections and code paths
            for _ in range(20):
                call()
        per_request: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(max(1, count // block)):
            for name, call in ways.items():
                started = time.perf_counter()
                for _ in range(block):
                    call()
                per_request[name].append((time.perf_counter() - started) / block * 1e6)
    return per_request


def summarize(
    per_request: dict[str, list[float]], block: int, baseline: str = "bare session"
) -> dict[str, Any]:
    """Per-request medians (us) over the blocks, and the ratios to the *baseline* way."""
    bare = statistics.median(per_request[baseline])
    return {
        "requests": len(per_request[baseline]) * block,
        "block": block,
        "per_request_us": {
            name: {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "runs": len(values),
            }
            for name, values in per_request.items()
        },
        "ratios": {name: statistics.median(values) / bare for name, values in per_request.items()},
    }


def measure(count: int = 2000, block: int = 100) -> dict[str, Any]:
    """Run the three ways; per-request medians (us) over blocks, and ratios to bare."""
    return summarize(blocks(count, block), block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="GETs per way")
    parser.add_argument("--block", type=int, default=100, help="GETs per timed block")
    parser.add_argument(
        "--json", action="store_true", help="print each block's time per request as JSON"
    )
    args = parser.parse_args(argv)
    if args.json:  # for compare.py, which runs this with the Python of each venv
        print(json.dumps(blocks(args.requests, args.block)))
        return 0
    show(measure(args.requests, args.block), f"requests {requests.__version__}")
    return 0


def show(result: dict[str, Any], library: str, client: str = "OpenAPI.list_projects") -> None:
    """Print *result* (as `summarize` makes it) as a table, and *client*'s ratio."""
    print(
        f"python {sys.version.split()[0]}, {library}, "
        f"{result['requests']} GETs per way in blocks of {result['block']}"
    )
    print(f"{'way':<28}{'median us':>11}{'min us':>9}{'max us':>9}{'ratio':>8}")
    for name, stats in result["per_request_us"].items():
        print(
            f"{name:<28}{stats['median']:>11.0f}{stats['min']:>9.0f}"
            f"{stats['max']:>9.0f}{result['ratios'][name]:>7.3f}x"
        )
    ratio = result["ratios"][client]
    print(f"client ratio: {ratio:.3f}x   goal: <= 1.05x   {'met' if ratio <= 1.05 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
