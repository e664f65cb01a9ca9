"""Time `ticktick-auth token` against `python -c pass`, in the same run on the same machine.

The goal (issue 3) is a ratio under 2x: printing a cached token must cost about as
much as starting Python. A third row, ``python -c "import json"``, shows how much of
the difference is only the standard library's JSON parser (it imports ``re``).
Runs alternate between the commands so that drift in machine load hits all
equally. Prints a table of median, min and max in milliseconds, and the ratio of
the medians.

    python bench/bench_token_command.py [--repeat 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _command() -> list[str]:
    script = Path(sys.executable).with_name("ticktick-auth")
    return (
        [str(script), "token"] if script.exists() else [sys.executable, "-m", "ticktick", "token"]
    )


def _once(command: list[str], cwd: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40, help="runs of each command")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "ACCESS_TOKEN_DICT"}
    with tempfile.TemporaryDirectory() as folder:
        token = {
            "access_token": "bench-token",
            "token_type": "bearer",
            "expires_in": 15551999,
            "scope": "tasks:read tasks:write",
            "expire_time": int(time.time()) + 100 * 86400,
            "issued_for": {
                "host": "ticktick.com",
                "client_id": "bench",
                "scope": "tasks:read tasks:write",
            },
        }
        cache = os.open(Path(folder, ".token-oauth"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(cache, json.dumps(token).encode())
        os.close(cache)
        commands = {
            "ticktick-auth token": _command(),
            "python -c pass": [sys.executable, "-c", "pass"],
            # Reference only: the standard library's JSON parser, which any cache reader needs.
            'python -c "import json"': [sys.executable, "-c", "import json"],
        }
        for command in commands.values():  # warm the file cache
            _once(command, folder, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                times[name].append(_once(command, folder, env))
    print(f"python {sys.version.split()[0]} on {sys.platform}, {args.repeat} runs each")
    print(f"{'command':<26}{'median ms':>11}{'min ms':>9}{'max ms':>9}")
    for name, values in times.items():
        print(
            f"{name:<26}{statistics.median(values) * 1000:>11.1f}"
            f"{min(values) * 1000:>9.1f}{max(values) * 1000:>9.1f}"
        )
    ratio = statistics.median(times["ticktick-auth token"]) / statistics.median(
        times["python -c pass"]
    )
    print(f"ratio (median): {ratio:.2f}x   goal: < 2x   {'met' if ratio < 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
