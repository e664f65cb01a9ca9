"""End to end in a real headless Chromium: the fake's login page, Allow/Deny, loopback capture.

Needs Debian's chromium at /usr/bin/chromium and Playwright's Python package (no
downloaded browser). Skips with the reason where either is missing; .ci/run installs
both and makes any skip a failure.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port

from ticktick import AccessDenied, OAuth2, SignOn
from ticktick.testing import FakeTickTick

CHROMIUM = os.environ.get("TICKTICK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(
        sync_playwright is None, reason="Playwright is not installed: pip install -e '.[test]'"
    ),
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)),
        reason=f"Chromium not found at {CHROMIUM}: apt-get install chromium",
    ),
]


# The box around what a page shows: its text, form controls and anything painted on a
# background of its own (the consent page's card); hidden inputs have no box.
_CONTENT_BOX = """() => {
  const boxes = [];
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = texts.nextNode(); node; node = texts.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    boxes.push(...range.getClientRects());
  }
  const page = getComputedStyle(document.body).backgroundColor;
  for (const element of document.body.querySelectorAll("*")) {
    const paint = getComputedStyle(element).backgroundColor;
    const control = ["INPUT", "BUTTON", "SELECT", "TEXTAREA", "IMG"].includes(element.tagName);
    if (control || (paint !== page && paint !== "rgba(0, 0, 0, 0)")) {
      boxes.push(element.getBoundingClientRect());
    }
  }
  const shown = boxes.filter((box) => box.width > 0 && box.height > 0);
  return {
    left: Math.min(...shown.map((box) => box.left + scrollX)),
    top: Math.min(...shown.map((box) => box.top + scrollY)),
    right: Math.max(...shown.map((box) => box.right + scrollX)),
    bottom: Math.max(...shown.map((box) => box.bottom + scrollY)),
  };
}"""


def save_screenshot(page: Page, path: Path, margin: int = 24) -> None:
    """Save *page* cropped to its content and *margin* pixels around it (the docs frame it)."""
    box = page.evaluate(_CONTENT_BOX)
    left = max(0, math.floor(box["left"]) - margin)
    top = max(0, math.floor(box["top"]) - margin)
    width, height = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    right = min(width, math.ceil(box["right"]) + margin)
    bottom = min(height, math.ceil(box["bottom"]) + margin)
    page.screenshot(
        path=str(path),
        clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
        full_page=True,
    )


class Person:
    """A person at a real headless Chromium, driven by Playwright in its own thread."""

    def __init__(self, click: str, screenshots: Path | None = None) -> None:
        self.click = click
        self.screenshots = screenshots
        self.final_text = ""
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def open(self, url: str) -> bool:
        """Stands in for webbrowser.open: the browser starts and the person acts."""
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.thread.start()
        return True

    def _run(self, url: str) -> None:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                try:
                    page = browser.new_page(viewport={"width": 720, "height": 560})
                    self._act(page, url)
                finally:
                    browser.close()
        except BaseException as exc:
            self.errors.append(exc)

    def _act(self, page: Page, url: str) -> None:
        page.goto(url)
        page.wait_for_selector("#allow")
        if self.screenshots is not None:
            save_screenshot(page, self.screenshots / "allow-page.png")
        page.fill("#email", "person@example.com")
        page.click(self.click)
        page.wait_for_load_state()
        self.final_text = page.inner_text("body")
        if self.screenshots is not None:
            save_screenshot(page, self.screenshots / f"after-{self.click[1:]}.png")

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(timeout=60)
        if self.errors:
            raise self.errors[0]


@pytest.fixture
def person(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Person]]:
    made: list[Person] = []

    def make(click: str) -> Person:
        shots = os.environ.get("TICKTICK_SCREENSHOTS")  # `make screenshots` sets it
        folder = Path(__file__).resolve().parent.parent / shots if shots else None
        chosen = Person(click, folder)
        monkeypatch.setattr("webbrowser.open", chosen.open)
        made.append(chosen)
        return chosen

    yield make
    for chosen in made:
        if chosen.thread is not None:
            chosen.thread.join(timeout=60)


def oauth_for(fake: FakeTickTick, redirect: str, cache: Path, **kwargs: Any) -> OAuth2:
    return fake.oauth2(
        redirect_uri=redirect,
        cache_path=cache,
        authorizer=SignOn(open_browser=True, paste=False),
        resolve=False,
        **kwargs,
    )


def test_allow_in_chromium_is_captured_and_cached(
    tmp_path: Path, person: Callable[[str], Person]
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    cache = tmp_path / ".token-oauth"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        chromium = person("#allow")
        token = oauth_for(fake, redirect, cache).get_access_token()
        chromium.join()
        assert token in fake.issued
        assert "Authorization complete" in chromium.final_text
        before = len(fake.requests)
        again = fake.oauth2(redirect_uri=redirect, cache_path=cache, authorizer=None)
        assert again.get_access_token() == token
        assert again.token_source == f"cache:{cache}"
        assert len(fake.requests) == before


def test_deny_in_chromium_is_access_denied(tmp_path: Path, person: Callable[[str], Person]) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    with FakeTickTick(redirect_uris=[redirect]) as fake:
        chromium = person("#deny")
        with pytest.raises(AccessDenied):
            oauth_for(fake, redirect, tmp_path / ".token-oauth").get_access_token()
        chromium.join()
        assert "Authorization refused" in chromium.final_text
        assert fake.token_requests == 0
        assert not (tmp_path / ".token-oauth").exists()
