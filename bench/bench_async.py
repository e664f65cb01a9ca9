"""Async apps: AsyncOpenAPI against a bare httpx.AsyncClient, and 200 coroutines at once.

Two measures, on the fake TickTick server:

* overhead: N authorized GETs (2,000 by default) to ``/open/v1/project``, one after
  the other, in interleaved blocks, two ways: ``bare AsyncClient`` (an
  ``httpx.AsyncClient`` with a fixed ``Authorization`` header, JSON decoded) and
  ``AsyncOpenAPI.list_projects``. Prints the median time per request in each block and
  the ratio to the bare client (goal: within 1.05x).
* one resolution: 200 coroutines ask an ``AsyncOpenAPI`` for a token at once, on an
  empty cache file, the fake server approving at once: the wall time until all have
  it, and the token requests made (1 is right).

    python bench/bench_async.py [--requests 2000] [--block 100] [--runs 5] [--json]

``bench/compare.py`` runs it with the Python of the benchmark venv (``--json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api_overhead import show, summarize

from ticktick import AsyncOpenAPI
from ticktick.testing import FakeTickTick

COROUTINES = 200


async def overhead_blocks(count: int, block: int) -> dict[str, list[float]]:
    """Both ways in interleaved blocks; microseconds per request in each block."""
    with FakeTickTick() as fake:
        oauth = fake.oauth2(cache_path=None)
        token = oauth.get_access_token()
        url = f"{fake.url}/open/v1/project"
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers) as bare, AsyncOpenAPI(oauth) as api:

            async def bare_get() -> object:
                return (await bare.get(url)).json()

            ways: dict[str, Callable[[], Awaitable[object]]] = {
                "bare AsyncClient": bare_get,
                "AsyncOpenAPI.list_projects": api.list_projects,
            }
            for call in ways.values():  # warm up connections and code paths
                for _ in range(20):
                    await call()
            per_request: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(max(1, count // block)):
                for name, call in ways.items():
                    started = time.perf_counter()
                    for _ in range(block):
                        await call()
                    per_request[name].append((time.perf_counter() - started) / block * 1e6)
    return per_request


async def one_resolution(coroutines: int = COROUTINES) -> dict[str, float]:
    """*coroutines* ask for a token at once on an empty cache: seconds, token requests."""
    with FakeTickTick() as fake, tempfile.TemporaryDirectory() as folder:
        oauth = fake.oauth2(cache_path=str(Path(folder) / ".token-oauth"), resolve=False)
        async with AsyncOpenAPI(oauth) as api:
            tokens: set[str] = set()

            async def need_a_token() -> None:
                tokens.add(await api.auth.token())

            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(coroutines):
                    group.start_soon(need_a_token)
            seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "token_requests": fake.token_requests,
            "distinct_tokens": len(tokens),
        }


def measure(count: int = 2000, block: int = 100, runs: int = 5) -> dict[str, Any]:
    """Both measures: the overhead (as ``bench_api_overhead.summarize``) and *runs*
    runs of the 200-coroutine resolution."""
    blocks = anyio.run(overhead_blocks, count, block)
    resolutions = [anyio.run(one_resolution) for _ in range(runs)]
    return {"blocks": blocks, "resolutions": resolutions}


def summary(raw: dict[str, Any], block: int) -> dict[str, Any]:
    """Per-request medians and ratios of the overhead; the resolution's medians."""
    resolutions = raw["resolutions"]
    return {
        "overhead": summarize(raw["blocks"], block, baseline="bare AsyncClient"),
        "resolution": {
            "coroutines": COROUTINES,
            "runs": len(resolutions),
            **{
                key: {
                    "median": statistics.median(r[key] for r in resolutions),
                    "min": min(r[key] for r in resolutions),
                    "max": max(r[key] for r in resolutions),
                }
                for key in ("seconds", "token_requests", "distinct_tokens")
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="GETs per way")
    parser.add_argument("--block", type=int, default=100, help="GETs per timed block")
    parser.add_argument("--runs", type=int, default=5, help="runs of the 200 coroutines")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    raw = measure(args.requests, args.block, args.runs)
    if args.json:  # for compare.py, which runs this with the Python of the bench venv
        print(json.dumps(raw))
        return 0
    result = summary(raw, args.block)
    resolution = result["resolution"]
    show(result["overhead"], f"httpx {httpx.__version__}", "AsyncOpenAPI.list_projects")
    print(
        f"{COROUTINES} coroutines, empty cache: all had a token after "
        f"{resolution['seconds']['median'] * 1000:.0f} ms (median of {resolution['runs']}); "
        f"token requests {resolution['token_requests']['max']:.0f} at most"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
