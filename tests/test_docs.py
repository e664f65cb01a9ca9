"""The docs keep telling the truth and read well.

Their code runs, the built site has no broken link, every code block fits in 88
columns (what a 1280 px window shows beside both sidebars, docs/stylesheets/extra.css),
every screenshot has its frame, and the benchmarks page is what bench/compare.py
writes from bench/results.json.

Every ```python block of the Quick start (Home), Use the token, Testing and Async apps
pages runs, in order, in one namespace per page, against the fake TickTick server,
after the step the pages ask a reader to take first (`ticktick-auth login`, then
`ticktick-auth export` into ACCESS_TOKEN_DICT). A block that defines tests runs under
pytest.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ticktick.cli import main
from ticktick.testing import FakeTickTick

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RUN_PAGES = ["index.md", "use.md", "testing.md", "async.md"]
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
    if page == "async.md":
        assert "['Buy milk', 'Call the plumber', 'Post the letter']" in out
        assert "50 answers; Buy milk" in out
        assert "True project at least" in out


def test_readme_quick_start_is_home_quick_start() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    home_quick_start = python_blocks("index.md")[0]
    assert home_quick_start in readme


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_link_checker_finds_broken_links(tmp_path: Path) -> None:
    checker = _module(DOCS / "_tools" / "check_links.py")
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="a/">ok</a><a href="a/#there">ok</a><a href="b/">missing</a>'
        '<a href="a/#nowhere">bad anchor</a><img src="img.png"><a href="https://x.org/">ext</a>'
        '<a href="/a/">root</a><a href="#top">self</a><h1 id="top">t</h1>'
    )
    (tmp_path / "a" / "index.html").write_text('<h2 id="there">x</h2>')
    broken = checker.check(tmp_path)
    assert sorted(broken) == [
        "index.html: a/#nowhere (no anchor #nowhere)",
        "index.html: b/ (no such file)",
        "index.html: img.png (no such file)",
    ]


# -- reading well ------------------------------------------------------------------------

WIDTH = 88
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})")
# Every Markdown page of the site, and README.md (PyPI and GitHub show it).
PAGES = sorted(
    path.relative_to(ROOT).as_posix()
    for path in [*DOCS.rglob("*.md"), ROOT / "README.md"]
    if "_tools" not in path.parts
)


# Pages whose wide blocks belong to other branches of issue 13 (URLs and transcripts of
# the CLI): strict, so once a page fits, its test fails until its name leaves this set.
def code_blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each fenced code block of *text*: its first line's number and its lines.

    A fence may be indented (in a list item); its indentation is not the block's.
    """
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        start = _FENCE.match(lines[number])
        number += 1
        if start is None:
            continue
        indent, fence = len(start["indent"]), start["fence"]
        first, body = number + 1, []
        while number < len(lines) and lines[number].strip() != fence:
            line = lines[number]
            body.append(line[indent:] if line[:indent].isspace() else line.lstrip())
            number += 1
        number += 1
        yield first, body


def wide_lines(text: str, width: int = WIDTH) -> list[str]:
    """ "line N: M columns" for each code block line of *text* wider than *width*."""
    return [
        f"line {first + offset}: {len(line)} columns"
        for first, body in code_blocks(text)
        for offset, line in enumerate(body)
        if len(line.rstrip()) > width
    ]


def test_code_blocks_are_found_in_lists_and_fences_of_any_kind() -> None:
    wide = "x" * (WIDTH + 1)
    text = "\n".join(
        [
            wide,  # prose may be wide: it wraps
            "1. A step:",
            "",
            "    ```console",
            "    " + "y" * WIDTH,  # the list's indentation is not the block's
            "    " + wide,
            "    ```",
            "~~~~",
            "```",  # a shorter fence of another kind is text in this block
            wide,
            "~~~~",
        ]
    )
    assert [body for _, body in code_blocks(text)] == [["y" * WIDTH, wide], ["```", wide]]
    assert wide_lines(text) == ["line 6: 89 columns", "line 10: 89 columns"]


@pytest.mark.parametrize(
    "page",
    PAGES,
)
def test_code_blocks_fit_88_columns(page: str) -> None:
    assert wide_lines((ROOT / page).read_text(encoding="utf-8")) == [], (
        f"{page}: code wider than {WIDTH} columns scrolls sideways at 1280 px"
    )


_IMAGE = re.compile(r"!\[[^\]]*\]\((?P<src>[^)\s]+)[^)]*\)(?P<attrs>\{[^}]*\})?")
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)


def test_screenshots_have_their_frame() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^extra_css:\n  - stylesheets/extra\.css$", config, re.M)
    css = (DOCS / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    frame = re.search(r"img\.screenshot \{([^}]*)\}", css)
    assert frame is not None
    assert "border:" in frame[1]
    assert "border-radius:" in frame[1]
    shown = []
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for image in _IMAGE.finditer(text):
            shown.append(image["src"])
            assert ".screenshot" in (image["attrs"] or ""), (
                f"{page.name}: {image[0]} has no {{ .screenshot }}"
            )
        for tag in _IMG_TAG.findall(text):
            shown.append(tag)
            assert re.search(r"class=\"[^\"]*\bscreenshot\b", tag), f"{page.name}: {tag}"
    assert shown, "no screenshot found: has the way images are included changed?"


def test_screenshots_are_cropped() -> None:
    # `make screenshots` crops to the page's content; an uncropped one is the whole
    # 720 x 560 window of tests/test_browser.py, mostly empty.
    for png in sorted((DOCS / "images").glob("*.png")):
        header = png.read_bytes()[:24]
        assert header[12:16] == b"IHDR"
        size = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
        assert size != (720, 560), f"{png.name} is not cropped: make screenshots"


def test_benchmarks_page_is_written_by_compare_py() -> None:
    compare = _module(ROOT / "bench" / "compare.py")
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    page = compare.DOCS_INTRO + compare.render(results)
    assert (DOCS / "benchmarks.md").read_text(encoding="utf-8") == page, (
        "docs/benchmarks.md differs from what bench/compare.py writes from results.json"
    )
    numbers = re.findall(r"^#+ (\d+[a-z]?)\. ", page, re.M)
    assert numbers == ["1", "2", "3", "4", "5", "6", "6a", "6b", "7", "8"]
    # The comparison says which is faster, as a reader would: "4x slower", not "0.24x".
    cold = results["cold_start_ms"]
    times = {name: stats["median"] for name, stats in cold.items()}
    for name, median in times.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| {name} | "))
        ours = times["ticktick-oauth"]
        if name == "ticktick-oauth":
            assert row.endswith("| - |")
        elif median > ours:
            assert row.endswith(f"| {median / ours:.2f}x slower |")
        else:
            assert row.endswith(f"| {ours / median:.2f}x faster |")
