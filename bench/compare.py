"""Benchmarks side by side with ticktick-py, in one run on one machine (``make bench``).

ticktick-py and ticktick-oauth are both imported as ``ticktick``, so each lives in
its own venv (``make bench`` builds ``bench/.venv-ours`` with a regular install of
this project and ``bench/.venv-ticktick-py`` with ticktick-py from PyPI). This
script runs the measures, prints a table of medians (with min and max) and the
ratio of each pair, and writes ``bench/results.md``, ``bench/results.json`` and the
docs page ``docs/benchmarks.md``.

1. Cold start with a cached token: a fresh process imports the package, builds the
   client from the cache file and gets the token; against ticktick-py,
   ``python -c "import requests"`` and ``python -c pass``.
2. ``ticktick-auth token`` against ``python -c pass``.
3. Hot path: ``get_access_token()`` on a resolved token, ns per call, single-threaded
   and across 8 threads.
4. Authorized request overhead: GETs through ``TickTickAuth`` and ``OpenAPI`` against
   a bare ``requests.Session`` with a fixed header (``bench_api_overhead.py``).
5. Contention: 4 processes x 8 threads on an empty cache, auto-approving fake server:
   token requests made, and time until all have a token.
6. Recovery: a token endpoint failing twice with 503 and ``Retry-After: 1``; and one
   that drops the connection after the request (the code is spent).
7. Memory: peak RSS of measure 1.
8. Async apps: GETs through ``AsyncOpenAPI`` against a bare ``httpx.AsyncClient``, and
   the wall time of 200 coroutines that need a token on an empty cache
   (``bench_async.py``); only when the ``--ours`` venv has httpx.

    python bench/compare.py --ours bench/.venv-ours/bin/python \\
        --ticktick-py bench/.venv-ticktick-py/bin/python

With ``--before PYTHON`` (``make bench-before BEFORE=<git rev>``), the measures that
concern only this package (1, 2, 3, 4 and 7) also run with the Python of a venv
holding an earlier version of it, alternating with ours in the same loops, and the
script writes ``bench/before-after.md`` and ``.json`` instead: before, after and
after/before for each figure. Measures 5 and 6, ticktick-py and the docs page are
left out of such a run.

    python bench/compare.py --ours bench/.venv-ours/bin/python \\
        --before bench/.venv-before/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import bench_api_overhead  # noqa: E402 - found through the path set just above
import bench_async  # noqa: E402

from ticktick.testing import FakeTickTick  # noqa: E402

WORKER = str(BENCH / "_worker.py")
OVERHEAD = str(BENCH / "bench_api_overhead.py")
ASYNC = str(BENCH / "bench_async.py")
BEFORE = " (before)"  # suffix of the before install's entries in the results
COLD_OURS = (
    "from ticktick import OAuth2; "
    "OAuth2('fake-client-id', 's', 'http://127.0.0.1:8080/').get_access_token()"
)
COLD_TPY = (
    "from ticktick.oauth2 import OAuth2; "
    "OAuth2('fake-client-id', 's', 'http://127.0.0.1:8080/').get_access_token()"
)
# VmHWM is the peak RSS of this address space. (ru_maxrss is not: on Linux it keeps the
# high-water mark of the parent that forked the process, across exec.)
RSS = (
    "\nfor line in open('/proc/self/status'):\n"
    "    if line.startswith('VmHWM:'): print(line.split()[1])"
)


def summary(values: list[float]) -> dict[str, float]:
    """Median, min and max of repeated measurements."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def write_cache(folder: Path) -> None:
    """A valid token in ticktick-py's cache format, which both clients read."""
    now = int(time.time())
    token = {
        "access_token": "00000000-0000-4000-8000-000000000000",
        "token_type": "bearer",
        "expires_in": 15551999,
        "scope": "tasks:read tasks:write",
        "expire_time": now + 100 * 86400,
        "readable_expire_time": time.asctime(time.localtime(now + 100 * 86400)),
    }
    fd = os.open(folder / ".token-oauth", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, json.dumps(token).encode())
    os.close(fd)


def time_commands(
    commands: dict[str, list[str]], cwd: Path, repeat: int
) -> dict[str, dict[str, float]]:
    """Milliseconds per command, alternating between them so that drift hits all."""
    for command in commands.values():  # warm the file cache
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: summary(values) for name, values in times.items()}


def output_of(command: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=True, timeout=300
    ).stdout


# -- the measures ------------------------------------------------------------------------


def measure_cold(
    ours: str, tpy: str | None, before: str | None, folder: Path, repeat: int
) -> dict[str, Any]:
    commands = {"ticktick-oauth": [ours, "-c", COLD_OURS]}
    if before:
        commands["ticktick-oauth" + BEFORE] = [before, "-c", COLD_OURS]
    commands |= {
        'python -c "import requests"': [ours, "-c", "import requests"],
        "python -c pass": [ours, "-c", "pass"],
    }
    if tpy:
        commands["ticktick-py"] = [tpy, "-c", COLD_TPY]
        commands['python -c "import requests" (ticktick-py venv)'] = [tpy, "-c", "import requests"]
    return time_commands(commands, folder, repeat)


def token_command(python: str) -> list[str]:
    """``ticktick-auth token`` as installed beside ``python``."""
    script = Path(python).with_name("ticktick-auth")
    return [str(script), "token"] if script.exists() else [python, "-m", "ticktick", "token"]


def measure_token_command(
    ours: str, before: str | None, folder: Path, repeat: int
) -> dict[str, Any]:
    commands = {"ticktick-auth token": token_command(ours)}
    if before:
        commands["ticktick-auth token" + BEFORE] = token_command(before)
    commands |= {
        "python -c pass": [ours, "-c", "pass"],
        # Reference only: the standard library's JSON parser, which any cache reader needs.
        'python -c "import json"': [ours, "-c", "import json"],
    }
    return time_commands(commands, folder, repeat)


def measure_hot(
    ours: str, tpy: str | None, before: str | None, folder: Path, calls: int, repeat: int
) -> dict[str, Any]:
    clients = [
        (name, python, impl)
        for name, python, impl in (
            ("ticktick-oauth", ours, "ours"),
            ("ticktick-oauth" + BEFORE, before, "ours"),
            ("ticktick-py", tpy, "tpy"),
        )
        if python
    ]
    all_runs: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in clients}
    for _ in range(repeat):  # alternating, so that drift hits all
        for name, python, impl in clients:
            command = [python, WORKER, "hot", impl, str(calls), "8"]
            all_runs[name].append(json.loads(output_of(command, folder)))
    result: dict[str, Any] = {}
    for name, runs in all_runs.items():
        result[name] = {
            "single_ns": summary([run["single_ns"] for run in runs]),
            "threads_ns": summary([run["threads_ns"] for run in runs]),
        }
    return result


def measure_overhead(
    pythons: dict[str, str], count: int, block: int, rounds: int
) -> dict[str, dict[str, Any]]:
    """Measure 4 run by each venv's Python in turn, ``rounds`` times, blocks pooled."""
    per_round = max(block, count // rounds)
    blocks: dict[str, dict[str, list[float]]] = {name: {} for name in pythons}
    for _ in range(rounds):
        for name, python in pythons.items():
            command = [python, OVERHEAD, "--json", "--requests", str(per_round)]
            run = json.loads(output_of([*command, "--block", str(block)]))
            for way, values in run.items():
                blocks[name].setdefault(way, []).extend(values)
    return {name: bench_api_overhead.summarize(ways, block) for name, ways in blocks.items()}


def measure_contention(
    ours: str, tpy: str | None, processes: int, threads: int, repeat: int
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, python, impl in (("ticktick-oauth", ours, "ours"), ("ticktick-py", tpy, "tpy")):
        if not python:
            continue
        requests_made, seconds, errors, distinct = [], [], [], []
        for _ in range(repeat):
            with (
                tempfile.TemporaryDirectory() as scratch,
                FakeTickTick(auto_approve=True, query_credentials=True) as fake,
            ):
                folder = Path(scratch)
                go = folder / "go"
                workers = [
                    subprocess.Popen(
                        [
                            python,
                            WORKER,
                            "contend",
                            impl,
                            fake.url,
                            str(threads),
                            str(go),
                            str(folder / ".token-oauth"),
                        ],
                        stdout=subprocess.PIPE,
                        text=True,
                        cwd=folder,
                    )
                    for _ in range(processes)
                ]
                time.sleep(1.5)  # every worker has imported and waits for the signal
                started = time.time()
                go.write_text("go")
                lines: list[dict[str, Any]] = []
                for worker in workers:
                    out, _ = worker.communicate(timeout=300)
                    lines += json.loads(out)
                requests_made.append(float(fake.token_requests))
                seconds.append(max(line["done"] for line in lines) - started)
                errors.append(float(sum(1 for line in lines if "error" in line)))
                distinct.append(float(len({line["token"] for line in lines if "token" in line})))
        result[name] = {
            "processes": processes,
            "threads": threads,
            "token_requests": summary(requests_made),
            "seconds_until_all": summary(seconds),
            "callers_failed": summary(errors),
            "distinct_tokens": summary(distinct),
            "callers": processes * threads,
        }
    return result


def measure_recovery(
    ours: str, tpy: str | None, repeat: int, fault: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, python, impl in (("ticktick-oauth", ours, "ours"), ("ticktick-py", tpy, "tpy")):
        if not python:
            continue
        attempts, seconds, successes = [], [], []
        for _ in range(repeat):
            with (
                tempfile.TemporaryDirectory() as scratch,
                FakeTickTick(auto_approve=True, query_credentials=True) as fake,
            ):
                fake.fail("/oauth/token", **fault)
                run = json.loads(
                    output_of(
                        [
                            python,
                            WORKER,
                            "authorize",
                            impl,
                            fake.url,
                            str(Path(scratch) / ".token-oauth"),
                        ],
                        Path(scratch),
                    )
                )
                attempts.append(float(fake.token_requests))
                seconds.append(run["seconds"])
                successes.append(1.0 if run["ok"] else 0.0)
                error = run["error"]
        result[name] = {
            "attempts": summary(attempts),
            "seconds": summary(seconds),
            "succeeded": summary(successes),
            "error": error,
        }
    return result


def measure_memory(
    ours: str, tpy: str | None, before: str | None, folder: Path, repeat: int
) -> dict[str, Any]:
    runs = [
        (name, python, code)
        for name, python, code in (
            ("ticktick-oauth", ours, COLD_OURS),
            ("ticktick-oauth" + BEFORE, before, COLD_OURS),
            ("ticktick-py", tpy, COLD_TPY),
            ('python -c "import requests"', ours, "import requests"),
        )
        if python
    ]
    values: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(repeat):
        for name, python, code in runs:
            peak = float(output_of([python, "-c", code + RSS], folder).split()[-1]) / 1024
            values[name].append(peak)
    return {name: summary(peaks) for name, peaks in values.items()}


def versions(python: str, package: str) -> str:
    code = (
        "import sys, requests, urllib3, importlib.metadata as m; "
        f"print(sys.version.split()[0], m.version({package!r}), requests.__version__, "
        "urllib3.__version__)"
    )
    py, pkg, req, url = output_of([python, "-c", code]).split()
    return f"Python {py}, {package} {pkg}, requests {req}, urllib3 {url}"


# -- rendering ---------------------------------------------------------------------------


def _fmt(stats: dict[str, float], unit: str, digits: int = 1) -> str:
    unit = f" {unit}" if unit else ""
    return (
        f"{stats['median']:.{digits}f}{unit} "
        f"({stats['min']:.{digits}f} to {stats['max']:.{digits}f})"
    )


def _ratio(a: dict[str, float], b: dict[str, float]) -> float:
    return a["median"] / b["median"]


def _against(stats: dict[str, float], ours: dict[str, float]) -> str:
    """How *stats* compares with *ours*, in words: "4.16x slower", "2.19x faster"."""
    if stats is ours:
        return "-"
    ratio = _ratio(stats, ours)
    return f"{ratio:.2f}x slower" if ratio >= 1 else f"{1 / ratio:.2f}x faster"


def measure_async(python: str, count: int, block: int, runs: int) -> dict[str, Any] | None:
    """Measure 8 with *python*; ``None`` when its venv has no httpx (no async apps)."""
    if subprocess.run([python, "-c", "import httpx"], capture_output=True).returncode:
        return None
    command = [python, ASYNC, "--json", "--requests", str(count), "--block", str(block)]
    raw = json.loads(output_of([*command, "--runs", str(runs)]))
    return bench_async.summary(raw, block)


def own_goals(results: dict[str, Any], suffix: str = "") -> list[tuple[str, str, bool]]:
    """(goal, figure, met) for the goals of ours alone: cold start, token, hot path, API.

    ``suffix`` picks the install: ``""`` for ours, ``BEFORE`` for the before install.
    """
    cold = results["cold_start_ms"]
    ratio = _ratio(cold["ticktick-oauth" + suffix], cold['python -c "import requests"'])
    out = [("cold start <= 1.1x the requests-import floor", f"{ratio:.2f}x", ratio <= 1.1)]
    token = results["token_command_ms"]
    ratio = _ratio(token["ticktick-auth token" + suffix], token["python -c pass"])
    out.append(("ticktick-auth token < 2x python -c pass", f"{ratio:.2f}x", ratio < 2))
    single = results["hot_path"]["ticktick-oauth" + suffix]["single_ns"]["median"]
    out.append(("hot path under 1 us single-threaded", f"{single:.0f} ns", single < 1000))
    overhead = results["request_overhead_before" if suffix else "request_overhead"]
    ratio = overhead["ratios"]["OpenAPI.list_projects"]
    out.append(("authorized requests <= 1.05x a bare session", f"{ratio:.3f}x", ratio <= 1.05))
    return out


def goals(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(goal, figure, met) for each goal of the issue; ``None`` when not measured."""
    floor, token, hot_ours, overhead = own_goals(results)
    out: list[tuple[str, str, bool | None]] = []
    cold = results["cold_start_ms"]
    if "ticktick-py" in cold:
        ratio = _ratio(cold["ticktick-oauth"], cold["ticktick-py"])
        out.append(("cold start <= ticktick-py", f"{ratio:.2f}x", ratio <= 1))
    out += [floor, token, hot_ours]
    hot = results["hot_path"]
    if "ticktick-py" in hot:
        ratio = (
            hot["ticktick-oauth"]["single_ns"]["median"] / hot["ticktick-py"]["single_ns"]["median"]
        )
        out.append(("hot path <= ticktick-py", f"{ratio:.2f}x", ratio <= 1))
    out.append(overhead)
    made = results["contention"]["ticktick-oauth"]["token_requests"]["max"]
    out.append(("contention: exactly 1 token request", f"{made:.0f}", made == 1))
    if "async" in results:
        ratio = results["async"]["overhead"]["ratios"]["AsyncOpenAPI.list_projects"]
        goal = "async requests <= 1.05x a bare httpx.AsyncClient"
        out.append((goal, f"{ratio:.3f}x", ratio <= 1.05))
        made = results["async"]["resolution"]["token_requests"]["max"]
        out.append(("200 coroutines: exactly 1 token request", f"{made:.0f}", made == 1))
    return out


def render(results: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    lines = [f"Measured {results['date']} on {results['machine']}.", ""]
    lines += [f"- ours: {results['versions']['ours']}"]
    if "ticktick-py" in results["versions"]:
        lines += [f"- ticktick-py: {results['versions']['ticktick-py']}"]
    lines += ["", "Each figure: median (min to max) over the repeated runs.", ""]

    lines += [
        "### 1. Cold start with a cached token",
        "",
        "| process | time | than ticktick-oauth |",
        "| --- | --- | --- |",
    ]
    cold = results["cold_start_ms"]
    for name, stats in cold.items():
        lines.append(
            f"| {name} | {_fmt(stats, 'ms')} | {_against(stats, cold['ticktick-oauth'])} |"
        )

    lines += ["", "### 2. `ticktick-auth token`", "", "| command | time |", "| --- | --- |"]
    token = results["token_command_ms"]
    for name, stats in token.items():
        lines.append(f"| {name} | {_fmt(stats, 'ms')} |")
    ratio = _ratio(token["ticktick-auth token"], token["python -c pass"])
    lines.append(f"| ticktick-auth token / python -c pass | {ratio:.2f}x |")

    lines += [
        "",
        "### 3. Hot path: `get_access_token()` on a resolved token",
        "",
        "| client | single thread | 8 threads (per call) |",
        "| --- | --- | --- |",
    ]
    for name, stats in results["hot_path"].items():
        single, threaded = _fmt(stats["single_ns"], "ns", 0), _fmt(stats["threads_ns"], "ns", 0)
        lines.append(f"| {name} | {single} | {threaded} |")

    overhead = results["request_overhead"]
    lines += [
        "",
        f"### 4. Authorized request overhead ({overhead['requests']} GETs each)",
        "",
        "| way | per request | ratio to bare |",
        "| --- | --- | --- |",
    ]
    for name, stats in overhead["per_request_us"].items():
        lines.append(f"| {name} | {_fmt(stats, 'us', 0)} | {overhead['ratios'][name]:.3f}x |")

    some = next(iter(results["contention"].values()))
    lines += [
        "",
        f"### 5. Contention: {some['processes']} processes x {some['threads']} threads, "
        "empty cache",
        "",
        "| client | token requests | callers failed | distinct tokens | until all have one |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, stats in results["contention"].items():
        lines.append(
            f"| {name} | {_fmt(stats['token_requests'], '', 0)} | "
            f"{_fmt(stats['callers_failed'], '', 0)} | {_fmt(stats['distinct_tokens'], '', 0)} | "
            f"{_fmt(stats['seconds_until_all'], 's', 2)} |"
        )

    lines += ["", "### 6. Recovery at the token endpoint"]
    for key, title, note in (
        (
            "recovery",
            "6a. 503 twice with `Retry-After: 1`",
            "`Retry-After` allows the third attempt after 2 s at the earliest.",
        ),
        (
            "dropped",
            "6b. The connection dropped after the token request was sent",
            "The server used the code: a retry sends a spent code (one attempt is right).",
        ),
    ):
        lines += [
            "",
            f"#### {title}",
            "",
            "| client | token requests | time | succeeded | error |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, stats in results[key].items():
            lines.append(
                f"| {name} | {_fmt(stats['attempts'], '', 0)} | {_fmt(stats['seconds'], 's', 2)}"
                f" | {stats['succeeded']['median']:.0%} | {stats['error'] or '-'} |"
            )
        lines += ["", note]

    lines += [
        "",
        "### 7. Memory: peak RSS of measure 1",
        "",
        "| process | peak RSS |",
        "| --- | --- |",
    ]
    for name, stats in results["memory_mib"].items():
        lines.append(f"| {name} | {_fmt(stats, 'MiB')} |")

    if "async" in results:
        lines += render_async(results["async"])

    lines += ["", "### Goals", "", "| goal | figure | met |", "| --- | --- | --- |"]
    for goal, figure, met in goals(results):
        lines.append(f"| {goal} | {figure} | {'yes' if met else 'no'} |")
    return "\n".join(lines) + "\n"


def render_async(figures: dict[str, Any]) -> list[str]:
    """Measure 8 as Markdown lines."""
    overhead, resolution = figures["overhead"], figures["resolution"]
    lines = [
        "",
        f"### 8. Async apps ({overhead['requests']} GETs each; {resolution['coroutines']} "
        "coroutines)",
        "",
        "| way | per request | ratio to bare |",
        "| --- | --- | --- |",
    ]
    for name, stats in overhead["per_request_us"].items():
        lines.append(f"| {name} | {_fmt(stats, 'us', 0)} | {overhead['ratios'][name]:.3f}x |")
    lines += [
        "",
        "| empty cache, coroutines at once | until all have a token | token requests |",
        "| --- | --- | --- |",
        f"| {resolution['coroutines']} | {_fmt(resolution['seconds'], 's', 3)} | "
        f"{_fmt(resolution['token_requests'], '', 0)} |",
    ]
    return lines


def render_before_after(results: dict[str, Any]) -> str:
    """The before/after results as Markdown: before, after and after/before per figure."""
    labels, versions_of = results["labels"], results["versions"]
    lines = [
        f"Measured {results['date']} on {results['machine']}, in one run: each measure",
        "alternates between the two installs in the same loop.",
        "",
        f"- before: {labels['before']}; {versions_of['before']}",
        f"- after: {labels['after']}; {versions_of['ours']}",
        "",
        "Each figure: median (min to max) over the repeated runs. after/before is the ratio",
        "of the medians, then of the minimums: below 1.00x the after install is faster (or",
        "smaller). Other work on the machine only adds time, to either side; a change that",
        "shows in one ratio and not the other is most likely noise.",
        "",
        "| measure | before | after | after/before | of minimums |",
        "| --- | --- | --- | --- | --- |",
    ]
    cold, token, hot = results["cold_start_ms"], results["token_command_ms"], results["hot_path"]
    before_api, after_api = results["request_overhead_before"], results["request_overhead"]

    Pair = tuple[dict[str, float], dict[str, float]]

    def pair(figures: dict[str, Any], name: str, key: str = "") -> Pair:
        """The before and after figures of ``name`` (``key`` within each, if given)."""
        before, after = figures[name + BEFORE], figures[name]
        return (before[key], after[key]) if key else (before, after)

    def row(name: str, figures: Pair, unit: str, digits: int) -> str:
        before, after = figures
        return (
            f"| {name} | {_fmt(before, unit, digits)} | {_fmt(after, unit, digits)} "
            f"| {_ratio(after, before):.2f}x | {after['min'] / before['min']:.2f}x |"
        )

    lines += [
        row("1. cold start with a cached token", pair(cold, "ticktick-oauth"), "ms", 1),
        row("2. `ticktick-auth token`", pair(token, "ticktick-auth token"), "ms", 1),
        row("3. hot path, single thread", pair(hot, "ticktick-oauth", "single_ns"), "ns", 0),
        row(
            "3. hot path, 8 threads (per call)", pair(hot, "ticktick-oauth", "threads_ns"), "ns", 0
        ),
    ]
    for way, stats in after_api["per_request_us"].items():
        lines.append(
            row(f"4. {way}, per request", (before_api["per_request_us"][way], stats), "us", 0)
        )
    for way in ("TickTickAuth", "OpenAPI.list_projects"):
        before_ratio, after_ratio = before_api["ratios"][way], after_api["ratios"][way]
        lines.append(
            f"| 4. {way} / bare session | {before_ratio:.3f}x | {after_ratio:.3f}x "
            f"| {after_ratio / before_ratio:.2f}x | - |"
        )
    lines.append(row("7. peak RSS of 1", pair(results["memory_mib"], "ticktick-oauth"), "MiB", 1))

    lines += [
        "",
        "References, run by the after venv's Python in the same loops (the same for both):",
        "",
        "| process | time |",
        "| --- | --- |",
    ]
    for measure, names in (
        (cold, ('python -c "import requests"', "python -c pass")),
        (token, ('python -c "import json"',)),
    ):
        for name in names:
            lines.append(f"| {name} | {_fmt(measure[name], 'ms')} |")

    lines += ["", "### Goals", "", "| goal | before | after |", "| --- | --- | --- |"]
    for (goal, before_figure, before_met), (_, after_figure, after_met) in zip(
        own_goals(results, BEFORE), own_goals(results), strict=True
    ):
        lines.append(
            f"| {goal} | {before_figure} ({'met' if before_met else 'not met'}) "
            f"| {after_figure} ({'met' if after_met else 'not met'}) |"
        )
    return "\n".join(lines) + "\n"


DOCS_INTRO = """# Benchmarks

Speed is measured, not asserted: `make bench` builds two venvs side by side, one with
a regular install of ticktick-oauth and one with ticktick-py from PyPI (both import as
`ticktick`), and runs `bench/compare.py`, which measures each pair in the same run on
the same machine and writes this page, `bench/results.md` and `bench/results.json`.
The test suite only checks that the benchmarks still run.

How to read the results:

- **Cold start**: a client built from a cached token does not need `requests`, so
  ticktick-oauth does not import it until a request is made (`oauth.session` is built
  on first use). That is why it starts several times faster than
  `python -c "import requests"`, the floor for any client that imports `requests`, and
  than ticktick-py, which imports it (and more) up front.
- **`ticktick-auth token`** imports neither `requests` nor `argparse` (a small parser
  handles `token`'s own options). What remains is mostly the standard library's `json`,
  whose decoder imports `re`: `python -c "import json"` alone costs about 1.7x
  `python -c pass`. With a regular install the ratio sits at about 2x: within the goal
  in some runs, just over it in others.
- **Contention**: ticktick-py has no lock, so every caller that finds no cache asks
  for its own token (each would be a person clicking Allow); ticktick-oauth's store
  lock lets exactly one caller authorize while the others wait and read its token.
- **Recovery**: both honour `Retry-After` on a 503. They differ when the connection
  drops after the token request was sent: the server has used the one-time code, so a
  retry can only fail. ticktick-py's session retries its POST (it also retries 500,
  502 and 504), re-sending the spent code; ticktick-oauth sends it once and says the
  code may have been used (`TransportError`).

## Results

"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=sys.executable, help="Python of the venv with ours")
    against = parser.add_mutually_exclusive_group()
    against.add_argument("--ticktick-py", default=None, help="Python of the ticktick-py venv")
    against.add_argument(
        "--before",
        default=None,
        help="Python of a venv with an earlier version of ours: measures 1-4 and 7 "
        "before and after, written to before-after.md and .json",
    )
    parser.add_argument("--before-label", default="before", help="what the before venv holds")
    parser.add_argument("--after-label", default="after", help="what the --ours venv holds")
    parser.add_argument(
        "--repeat",
        type=int,
        default=20,
        help="runs of each timed command; also scales measures 3 and 4 (default 20: "
        "5 hot-path runs, 2,000 GETs in 4 runs)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    parser.add_argument("--out", default=str(BENCH), help="folder for results.md and .json")
    parser.add_argument(
        "--docs",
        default=str(ROOT / "docs" / "benchmarks.md"),
        help="the docs page to write ('' for none; never written with --before)",
    )
    args = parser.parse_args(argv)
    # Absolute, but not resolved: a venv's python is a symlink that must stay one.
    args.ours = os.path.abspath(args.ours)
    args.ticktick_py = args.ticktick_py and os.path.abspath(args.ticktick_py)
    before = args.before and os.path.abspath(args.before)
    quick = args.quick
    repeat = 1 if quick else args.repeat
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        "versions": {"ours": versions(args.ours, "ticktick-oauth")},
    }
    if args.ticktick_py:
        results["versions"]["ticktick-py"] = versions(args.ticktick_py, "ticktick-py")
    if before:
        results["versions"]["before"] = versions(before, "ticktick-oauth")
        results["labels"] = {"before": args.before_label, "after": args.after_label}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_cache(folder)
        print("1. cold start ...", flush=True)
        results["cold_start_ms"] = measure_cold(args.ours, args.ticktick_py, before, folder, repeat)
        print("2. ticktick-auth token ...", flush=True)
        results["token_command_ms"] = measure_token_command(args.ours, before, folder, repeat)
        print("3. hot path ...", flush=True)
        results["hot_path"] = measure_hot(
            args.ours,
            args.ticktick_py,
            before,
            folder,
            2000 if quick else 400_000,
            1 if quick else max(1, args.repeat // 4),
        )
        print("7. memory ...", flush=True)
        results["memory_mib"] = measure_memory(
            args.ours, args.ticktick_py, before, folder, 1 if quick else 5
        )
    print("4. request overhead ...", flush=True)
    pythons = {"ours": args.ours} | ({"before": before} if before else {})
    overhead = measure_overhead(
        pythons,
        20 if quick else 100 * args.repeat,
        10 if quick else 100,
        1 if quick else max(1, args.repeat // 5),
    )
    results["request_overhead"] = overhead["ours"]
    if before:
        results["request_overhead_before"] = overhead["before"]
    else:  # measures 5 and 6 compare with ticktick-py, or show behaviour, not speed
        print("5. contention ...", flush=True)
        results["contention"] = measure_contention(
            args.ours, args.ticktick_py, 2 if quick else 4, 2 if quick else 8, 1 if quick else 3
        )
        print("6. recovery ...", flush=True)
        runs = 1 if quick else 3
        retry_after = {"status": 503, "headers": {"Retry-After": "1"}, "times": 2}
        results["recovery"] = measure_recovery(args.ours, args.ticktick_py, runs, retry_after)
        dropped = {"drop": True, "times": 10}
        results["dropped"] = measure_recovery(args.ours, args.ticktick_py, runs, dropped)
        print("8. async apps ...", flush=True)
        measured = measure_async(
            args.ours, 20 if quick else 100 * args.repeat, 10 if quick else 100, 1 if quick else 5
        )
        if measured is not None:
            results["async"] = measured
    results["seconds"] = round(time.monotonic() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if before:
        table = render_before_after(results)
        written = [out / "before-after.md", out / "before-after.json"]
        written[0].write_text("# Before and after\n\n" + table)
    else:
        table = render(results)
        written = [out / "results.md", out / "results.json"]
        written[0].write_text("# Benchmark results\n\n" + table)
        if args.docs:
            Path(args.docs).write_text(DOCS_INTRO + table)
            written.append(Path(args.docs))
    written[1].write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table)
    others = f" and {written[2]}" if len(written) > 2 else ""
    print(f"wrote {written[0]}, {written[1]}{others} in {results['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
