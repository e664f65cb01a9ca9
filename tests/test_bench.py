"""Benchmarks are not part of `make test`; this only checks that they still run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_compare(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``compare.py --quick`` with *options*, writing its results into *folder*."""
    return subprocess.run(
        [
            sys.executable,
            str(BENCH / "compare.py"),
            "--quick",
            *options,
            "--out",
            str(folder),
            "--docs",
            str(folder / "benchmarks.md"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_bench(script: str, *options: str) -> str:
    """Run ``bench/SCRIPT`` with *options*; its output, once it ended well."""
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_api_overhead_bench_runs() -> None:
    out = run_bench("bench_api_overhead.py", "--requests", "20", "--block", "10")
    assert "OpenAPI.list_projects" in out
    assert "client ratio:" in out


def test_async_bench_runs() -> None:
    out = run_bench("bench_async.py", "--requests", "20", "--block", "10", "--runs", "1")
    assert "AsyncOpenAPI.list_projects" in out
    assert "client ratio:" in out
    assert "token requests 1 at most" in out


def test_compare_runs_quickly_without_ticktick_py(tmp_path: Path) -> None:
    result = run_compare(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["contention"]["ticktick-oauth"]["token_requests"]["max"] == 1
    assert results["dropped"]["ticktick-oauth"]["attempts"]["max"] == 1
    assert results["recovery"]["ticktick-oauth"]["succeeded"]["min"] == 1
    assert results["async"]["resolution"]["token_requests"]["max"] == 1
    table = (tmp_path / "results.md").read_text()
    for heading in (
        "1. Cold start",
        "2. `ticktick-auth token`",
        "3. Hot path",
        "4. Authorized",
        "5. Contention",
        "6. Recovery",
        "7. Memory",
        "8. Async apps",
        "Goals",
    ):
        assert heading in table
    assert (tmp_path / "benchmarks.md").read_text().startswith("# Benchmarks")


def test_compare_with_before_writes_before_and_after(tmp_path: Path) -> None:
    # The same install on both sides: the column works, whatever the figures.
    result = run_compare(tmp_path, "--before", sys.executable)
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((tmp_path / "before-after.json").read_text())
    assert "ticktick-oauth (before)" in results["cold_start_ms"]
    assert "ticktick-auth token (before)" in results["token_command_ms"]
    assert "ticktick-oauth (before)" in results["hot_path"]
    assert "ticktick-oauth (before)" in results["memory_mib"]
    assert results["request_overhead_before"]["requests"] == 20
    table = (tmp_path / "before-after.md").read_text()
    assert "| measure | before | after | after/before |" in table
    for row in (
        "| 1. cold start",
        "| 2. `ticktick-auth token`",
        "| 3. hot path, single thread",
        "| 4. OpenAPI.list_projects, per request",
        "| 4. OpenAPI.list_projects / bare session",
        "| 7. peak RSS",
    ):
        assert row in table
    # The ticktick-py comparison's files and the docs page are left alone.
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "before-after.json",
        "before-after.md",
    ]
