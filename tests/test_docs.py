"""The docs keep telling the truth: their code runs, and the built site has no broken link.

Every ```python block of the Quick start (Home), Use the token and Testing pages runs,
in order, in one namespace per page, against the fake TickTick server, after the step
the pages ask a reader to take first (`ticktick-auth login`, then `ticktick-auth
export` into ACCESS_TOKEN_DICT). A block that defines tests runs under pytest.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ticktick.cli import main
from ticktick.testing import FakeTickTick

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUN_PAGES = ["index.md", "use.md", "testing.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: str) -> list[str]:
    return _BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", RUN_PAGES)
def test_code_blocks_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = python_blocks(page)
    assert blocks, f"{page} has no python blocks"
    with FakeTickTick() as fake:
        monkeypatch.setenv("TICKTICK_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("TICKTICK_CLIENT_SECRET", fake.client_secret)
        monkeypatch.setenv("TICKTICK_HOST", fake.url)
        # `ticktick-auth login`: a person signs on once and the token is cached here.
        fake.oauth2(cache_path=".token-oauth").get_access_token()
        # `ticktick-auth export`, stored as the ACCESS_TOKEN_DICT secret.
        assert main(["export", "--host", fake.url]) == 0
        monkeypatch.setenv("ACCESS_TOKEN_DICT", capsys.readouterr().out)
        namespace: dict[str, object] = {"__name__": "__docs__"}
        for number, block in enumerate(blocks, start=1):
            where = f"docs/{page}, python block {number}"
            if "def test_" in block:
                test_file = tmp_path / f"test_docs_block_{number}.py"
                test_file.write_text(block)
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "-q",
                        "-p",
                        "no:cacheprovider",
                        str(test_file),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    cwd=tmp_path,
                    check=False,
                )
                assert result.returncode == 0, f"{where}:\n{result.stdout}{result.stderr}"
            else:
                exec(compile(block, where, "exec"), namespace)  # noqa: S102 - our own docs
        out = capsys.readouterr().out
    assert "Traceback" not in out
    if page == "index.md":
        assert "['Try ticktick-oauth']" not in out  # printed before the task was added
        assert fake.api.tasks
    if page == "use.md":
        assert "cache:.token-oauth" in out
        assert "env:ACCESS_TOKEN_DICT" in out
        assert "not found, HTTP 404" in out
        assert "https://api.dida365.com/open/v1" in out
    if page == "testing.md":
        assert "rate limited, retry after 30" in out
        assert "refused: 401" in out


def test_readme_quick_start_is_home_quick_start() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    home_quick_start = python_blocks("index.md")[0]
    assert home_quick_start in readme


def _checker() -> object:
    spec = importlib.util.spec_from_file_location("check_links", DOCS / "_tools" / "check_links.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_link_checker_finds_broken_links(tmp_path: Path) -> None:
    checker = _checker()
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="a/">ok</a><a href="a/#there">ok</a><a href="b/">missing</a>'
        '<a href="a/#nowhere">bad anchor</a><img src="img.png"><a href="https://x.org/">ext</a>'
        '<a href="/a/">root</a><a href="#top">self</a><h1 id="top">t</h1>'
    )
    (tmp_path / "a" / "index.html").write_text('<h2 id="there">x</h2>')
    broken = checker.check(tmp_path)  # type: ignore[attr-defined]
    assert sorted(broken) == [
        "index.html: a/#nowhere (no anchor #nowhere)",
        "index.html: b/ (no such file)",
        "index.html: img.png (no such file)",
    ]
