"""Check every internal link and image of a built site; exit 1 on any broken one.

    python docs/_tools/check_links.py site

For each HTML file, every ``href`` and ``src`` that stays inside the site must name
an existing file (a folder means its ``index.html``), and every ``#fragment`` must be
an ``id`` (or ``name``) in the target page. External links (with a scheme or ``//``)
are not fetched: the check needs no network.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name in ("href", "src") and not (tag == "link" and "search" in value):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def check(site: Path) -> list[str]:
    """Every broken internal link in *site*, as ``page: link (reason)``."""
    pages = {path: _parse(path) for path in site.rglob("*.html")}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//") or link.startswith("mailto:"):
                continue
            if parts.path.startswith("/"):  # site-absolute (the 404 page uses these)
                target = (site / unquote(parts.path).lstrip("/")).resolve()
                if target.is_dir():
                    target = target / "index.html"
            elif parts.path:
                target = (path.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = path.resolve()
            where = f"{path.relative_to(site)}: {link}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no anchor #{parts.fragment})")
    return broken


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "site").resolve()
    if not site.is_dir():
        print(f"{site} is not a built site: run mkdocs build first", file=sys.stderr)
        return 2
    broken = check(site)
    for line in broken:
        print(f"broken link: {line}")
    count = sum(1 for _ in site.rglob("*.html"))
    print(f"checked {count} pages: {len(broken)} broken internal link(s)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
