"""Shared fixtures: a running fake TickTick, an isolated working folder, skip policing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ticktick.testing import FakeTickTick

# With TICKTICK_FAIL_ON_SKIP=1 (set by .ci/run) a skipped test fails the run: CI must
# prove that every test ran, not that it was skipped for want of a tool.
_FAIL_ON_SKIP = os.environ.get("TICKTICK_FAIL_ON_SKIP") == "1"
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _FAIL_ON_SKIP and _skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nTICKTICK_FAIL_ON_SKIP=1 and {len(_skipped)} test(s) skipped: {_skipped}")


@pytest.fixture
def fake() -> Iterator[FakeTickTick]:
    """A fake TickTick server on a free loopback port."""
    with FakeTickTick() as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run every test in its own folder, with no token variable or CI flag inherited."""
    monkeypatch.chdir(tmp_path)
    for name in ("ACCESS_TOKEN_DICT", "CI", "BROWSER", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    """Where the token cache goes in a test."""
    return tmp_path / "cache" / ".token-oauth"
