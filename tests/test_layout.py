"""The layout's rule for names (docs/architecture.md, "How the layers are enforced").

A name that starts with an underscore may be imported only by a module in the same
package directory: ticktick/cli/login.py may import ``_show`` from ticktick/cli/output.py,
ticktick/api.py may not import ``_never_sent`` from ticktick/_http/session.py. So the
underscore keeps saying "safe to change without looking elsewhere". Private *modules*
(``ticktick._http``, ``ticktick._defaults``, ...) are shared by the whole package, and
dunder names (``__version__``) are public.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ticktick"


# Imports that break the rule today and are being fixed on branch redaction; the lead
# empties this list after merging it. (module that imports, module it imports from, name)
def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_of(module: str, root: Path) -> Path | None:
    """The file of module *module* under *root*, or None if there is none."""
    base = root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def private_imports(path: Path, root: Path) -> list[tuple[str, str, str, int]]:
    """Each underscored name that *path* imports from a module of *root* in another folder.

    *root* is the folder that holds the ``ticktick`` package. Returns (importer, source,
    name, line) for each.
    """
    importer = module_name(path, root)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        source_file = source_of(source, root)
        if source_file is None or source_file.parent == path.parent:
            continue
        for alias in node.names:
            name = alias.name
            private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
            if private and source_of(f"{source}.{name}", root) is None:  # not a module
                found.append((importer, source, name, node.lineno))
    return found


def test_no_underscored_name_crosses_a_package_directory() -> None:
    found = [
        entry
        for path in sorted(PACKAGE.rglob("*.py"))
        for entry in private_imports(path, PACKAGE.parent)
    ]
    crossing = [
        f"{importer} (line {line}) imports {name} from {source}"
        for importer, source, name, line in found
    ]
    assert not crossing, (
        "An underscored name is private to its package directory. Make it public (no"
        " underscore) where it is defined, or move the code that needs it:\n" + "\n".join(crossing)
    )


def test_what_counts_as_crossing(tmp_path: Path) -> None:
    files = {
        "ticktick/__init__.py": "",
        "ticktick/_private.py": "_x = 1\n",
        "ticktick/errors.py": "_excerpt = 1\n__version__ = 1\n",
        "ticktick/cli/__init__.py": "",
        "ticktick/cli/output.py": "_show = 1\n",
        "ticktick/cli/login.py": (
            "from .output import _show\n"  # same folder: fine
            "from . import output\n"
            "from .. import _private\n"  # a private module: fine
            "from ..errors import __version__, _excerpt\n"  # dunder fine; _excerpt not
            "from ticktick._private import _x\n"  # absolute, another folder: not
            "from os import _exit\n"  # not ours
            "def later():\n"
            "    from ticktick.cli.output import _show\n"  # nested, same folder: fine
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = private_imports(tmp_path / "ticktick/cli/login.py", tmp_path)
    assert found == [
        ("ticktick.cli.login", "ticktick.errors", "_excerpt", 4),
        ("ticktick.cli.login", "ticktick._private", "_x", 5),
    ]
