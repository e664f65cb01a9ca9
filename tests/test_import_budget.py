"""The fast path's import budget (docs/architecture.md, "The fast path").

`ticktick-auth token` and a cached ``OAuth2().get_access_token()`` run in scripts and
at every start of an app, so they import only what they need: no requests, typing,
logging, threading or argparse. Each path runs in a fresh interpreter; the modules it
imports beyond ``python -c pass`` are compared with the lists below, ticktick's own
and the standard library's apart. A test fails when a path imports a module that is
not listed, and names it. A module that is no longer imported is fine: the lists are
a ceiling, not a census (trim them when you like).

The interpreter runs with ``-I -S`` and puts the checkout and site-packages on
``sys.path`` itself, then imports ``site``: that is exactly what ``python -c pass``
has loaded in a plain venv, without the ``.pth`` files of an editable install or of
coverage, which load ``pathlib``, ``re``, ``urllib.parse``, ... at start-up and would
hide those imports from the test (and not from the benchmarks, which use a regular
install).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "00000000-0000-4000-8000-000000000000"

# -- the budgets ---------------------------------------------------------------------------

# Never on the fast path, whatever the lists below say (standards.md, the benchmarks).
NEVER = {"requests", "urllib3", "typing", "logging", "threading", "argparse", "subprocess"}

# The standard library that both paths need: json (the cache), re (token and redirect
# checks), fcntl (the cache file's lock) and what those import.
_STDLIB_COMMON = {
    "__future__",
    "_collections",
    "_functools",
    "_json",
    "_operator",
    "_sre",
    "collections",
    "copyreg",
    "enum",
    "errno",
    "fcntl",
    "functools",
    "itertools",
    "json",
    "json.decoder",
    "json.encoder",
    "json.scanner",
    "keyword",
    "operator",
    "re",
    "re._casefix",
    "re._compiler",
    "re._constants",
    "re._parser",
    "reprlib",
    "types",
    # Python 3.10's re, in modules of its own (3.11 made them re._*):
    "_locale",
    "sre_compile",
    "sre_constants",
    "sre_parse",
}

# The ticktick modules that both paths need: the cache file store and the token's checks.
_TICKTICK_COMMON = {
    "ticktick",
    "ticktick._defaults",  # defaults, the version, the logger helper, lazy names
    "ticktick.endpoints",
    "ticktick.errors",
    "ticktick.resolution",
    "ticktick.stores",
    "ticktick.stores.base",
    "ticktick.stores.disk",
    "ticktick.stores.env",
    "ticktick.stores.file",  # its lock (ticktick.stores.locks) is made on the first write
    "ticktick.token",
}

# `ticktick-auth token` with a cached token: the fast `token` dispatch of ticktick.cli.
TOKEN_COMMAND_TICKTICK = _TICKTICK_COMMON | {
    "ticktick.cli",
    "ticktick.cli.commands",
    "ticktick.cli.output",
}
TOKEN_COMMAND_STDLIB = _STDLIB_COMMON

# `ticktick-auth token --profile NAME`: the same, plus reading the profiles file (the
# profiles module and the CLI's profile module; json is already on the path).
TOKEN_PROFILE_TICKTICK = TOKEN_COMMAND_TICKTICK | {"ticktick.profiles", "ticktick.cli.profile"}
TOKEN_PROFILE_STDLIB = TOKEN_COMMAND_STDLIB

# `from ticktick import OAuth2; OAuth2(...).get_access_token()` with a cached token.
CACHED_OAUTH2_TICKTICK = _TICKTICK_COMMON | {"ticktick.oauth2"}
CACHED_OAUTH2_STDLIB = _STDLIB_COMMON | {
    "ipaddress",  # the redirect URI's loopback check, via urllib.parse
    "math",  # ipaddress's, on Python 3.12 and later
    "urllib",
    "urllib.parse",  # the redirect URI's check
    "warnings",  # TokenExpiryWarning and friends
}

# `import ticktick`: the public names are imported on first use.
IMPORT_TICKTICK = {"ticktick", "ticktick._defaults"}
IMPORT_STDLIB = {"__future__"}

# -- running a path in a fresh interpreter ---------------------------------------------------

PROBE = """
import sys, site  # all that `python -c pass` has loaded in a plain venv
sys.path[:0] = sys.argv[2:]
before = set(sys.modules)
if sys.argv[1] == "token":
    from ticktick.cli import main
    code = main(["token"])
elif sys.argv[1] == "token-profile":
    from ticktick.cli import main
    code = main(["token", "--profile", "work"])
elif sys.argv[1] == "oauth2":
    from ticktick import OAuth2
    print(OAuth2("client-id", "client-secret", "http://127.0.0.1:8080/").get_access_token())
    code = 0
else:
    import ticktick
    code = 0
added = sorted(set(sys.modules) - before)
print("--- imported:", *added)
sys.exit(code)
"""


@pytest.fixture
def cached(tmp_path: Path) -> Path:
    """A folder with a valid token in the default cache file, ``.token-oauth``."""
    now = int(time.time())
    token = {
        "access_token": TOKEN,
        "token_type": "bearer",
        "expires_in": 15551999,
        "scope": "tasks:read tasks:write",
        "expire_time": now + 100 * 86400,
        "readable_expire_time": time.asctime(time.localtime(now + 100 * 86400)),
    }
    fd = os.open(tmp_path / ".token-oauth", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(token, file)
    return tmp_path


def imported_by(path: str, folder: Path, **extra: str) -> tuple[list[str], set[str]]:
    """Run *path* in a fresh interpreter in *folder*: its output lines and added modules.

    *extra* is added to its environment.
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TICKTICK_") and name != "ACCESS_TOKEN_DICT"
    }
    environment.update(extra)
    command = [sys.executable, "-I", "-S", "-c", PROBE, path, str(ROOT), *site.getsitepackages()]
    result = subprocess.run(
        command,
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    *output, last = result.stdout.splitlines()
    marker, _, modules = last.partition(":")
    assert marker == "--- imported", result.stdout
    return output, set(modules.split())


def shortened(names: set[str]) -> list[str]:
    """*names* sorted; outside ticktick, one entry per top-level package with a count."""
    tops: dict[str, set[str]] = {}
    for name in names:
        top = name if name.startswith("ticktick.") else name.partition(".")[0]
        tops.setdefault(top, set()).add(name)
    return [
        f"{top} (+{len(inside - {top})} submodules)" if inside - {top} else top
        for top, inside in sorted(tops.items())
    ]


def over_budget(added: set[str], ticktick: set[str], stdlib: set[str]) -> str:
    """What *added* holds beyond the lists, by kind; empty when within the budget."""
    mine = {name for name in added if name == "ticktick" or name.startswith("ticktick.")}
    standard = {name for name in added - mine if name.partition(".")[0] in sys.stdlib_module_names}
    other = added - mine - standard
    lines = [
        f"{kind}: {', '.join(shortened(names))}"
        for kind, names in (
            ("ticktick modules not in the budget", mine - ticktick),
            ("standard library modules not in the budget", standard - stdlib),
            ("third-party modules (none belong on the fast path)", other),
            ("modules never allowed on the fast path", added & NEVER),
        )
        if names
    ]
    if not lines:
        return ""
    return (
        "\n".join(lines)
        + "\nImport them lazily, where they are needed, or, if the fast path truly needs"
        " them, add them to the lists in tests/test_import_budget.py and say why (the"
        " benchmarks in bench/ measure the cost). A module that is no longer imported is"
        " fine and fails nothing."
    )


def test_the_budgets_leave_out_what_the_fast_path_never_imports() -> None:
    for listed in (
        TOKEN_COMMAND_TICKTICK,
        TOKEN_COMMAND_STDLIB,
        TOKEN_PROFILE_TICKTICK,
        TOKEN_PROFILE_STDLIB,
        CACHED_OAUTH2_TICKTICK,
        CACHED_OAUTH2_STDLIB,
        IMPORT_TICKTICK,
        IMPORT_STDLIB,
    ):
        assert not listed & NEVER


def test_token_command(cached: Path) -> None:
    output, added = imported_by("token", cached)
    assert output == [TOKEN]
    problem = over_budget(added, TOKEN_COMMAND_TICKTICK, TOKEN_COMMAND_STDLIB)
    assert not problem, f"`ticktick-auth token` imports more than its budget:\n{problem}"


def test_token_command_with_a_profile(cached: Path) -> None:
    """``token --profile work`` reads one small JSON file more, and two modules."""
    folder = cached / "config" / "ticktick-auth"
    folder.mkdir(parents=True)
    (cached / ".token-oauth").rename(folder / "work.token-oauth")
    profile = {"client_id": "client-id", "redirect_uri": "http://127.0.0.1:8080/"}
    (folder / "profiles.json").write_text(json.dumps({"profiles": {"work": profile}}))
    output, added = imported_by("token-profile", cached, XDG_CONFIG_HOME=str(cached / "config"))
    assert output == [TOKEN]
    problem = over_budget(added, TOKEN_PROFILE_TICKTICK, TOKEN_PROFILE_STDLIB)
    assert not problem, f"`ticktick-auth token --profile` imports more than its budget:\n{problem}"


def test_cached_oauth2(cached: Path) -> None:
    output, added = imported_by("oauth2", cached)
    assert output == [TOKEN]
    problem = over_budget(added, CACHED_OAUTH2_TICKTICK, CACHED_OAUTH2_STDLIB)
    assert not problem, f"a cached OAuth2().get_access_token() imports more:\n{problem}"


def test_import_ticktick(tmp_path: Path) -> None:
    """``import ticktick`` loads the version only; every public name comes on first use."""
    _, added = imported_by("import", tmp_path)
    problem = over_budget(added, IMPORT_TICKTICK, IMPORT_STDLIB)
    assert not problem, f"`import ticktick` imports more than its budget:\n{problem}"


def test_over_budget_names_what_was_added() -> None:
    """The failure names each added module by kind; a module that went away fails nothing."""
    problem = over_budget(
        {"ticktick", "ticktick.api", "typing", "requests", "requests.sessions"},
        ticktick={"ticktick", "ticktick.errors"},
        stdlib=set(),
    )
    assert "ticktick modules not in the budget: ticktick.api\n" in problem
    assert "standard library modules not in the budget: typing\n" in problem
    assert "third-party modules (none belong on the fast path): requests (+1 submodules)\n" in (
        problem
    )
    assert "never allowed on the fast path: requests, typing\n" in problem
    assert "errors" not in problem
    assert over_budget({"ticktick"}, {"ticktick", "ticktick.errors"}, set()) == ""


def test_only_modules_on_the_fast_path_avoid_typing() -> None:
    """`TYPE_CHECKING = False` (instead of importing typing) is kept to the fast path.

    Elsewhere it saves nothing; a module that leaves the fast path goes back to
    ordinary Python, and this test says which.
    """
    fast = TOKEN_COMMAND_TICKTICK | TOKEN_PROFILE_TICKTICK | CACHED_OAUTH2_TICKTICK
    tricked = set()
    for path in (ROOT / "ticktick").rglob("*.py"):
        if "TYPE_CHECKING = False" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            tricked.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert tricked <= fast, (
        f"{sorted(tricked - fast)} write TYPE_CHECKING = False but are not on the fast path: "
        "use `from typing import TYPE_CHECKING` there"
    )
