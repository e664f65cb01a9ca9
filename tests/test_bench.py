"""Benchmarks are not part of `make test`; this only checks that they still run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_token_command_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "bench_token_command.py"), "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ticktick-auth token" in result.stdout
    assert "ratio (median):" in result.stdout
    assert result.stderr == ""  # no warnings: the bench's cache file is written 0600


def test_api_overhead_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "bench_api_overhead.py"), "--requests", "20", "--block", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "OpenAPI.list_projects" in result.stdout
    assert "client ratio:" in result.stdout
