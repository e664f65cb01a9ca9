"""The public API: every name in __all__ imports, lazily, and the package is typed.

What `import ticktick` loads is in the import budget, tests/test_import_budget.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_python

import ticktick


def test_every_public_name_imports() -> None:
    assert set(ticktick.__all__) == {*ticktick._WHERE, "__version__"} - set(ticktick._EXTRAS)
    for name in ticktick.__all__:
        assert getattr(ticktick, name) is not None
    assert dir(ticktick) == sorted(ticktick.__all__)


def test_unknown_name() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ticktick.nope


def test_py_typed_is_shipped() -> None:
    assert (Path(ticktick.__file__).parent / "py.typed").exists()


def test_ticktick_py_module_paths_keep_importing() -> None:
    """Code written for ticktick-py imports these; a cached OAuth2 still loads no requests."""
    probe = (
        "import sys\n"
        "from ticktick.oauth2 import OAuth2\n"
        "from ticktick.cache import CacheHandler\n"
        "light = 'requests' not in sys.modules\n"
        "from ticktick.oauth2 import requests_retry_session\n"
        "from ticktick.stores import FileStore\n"
        "session = requests_retry_session()\n"
        "print(light, CacheHandler is FileStore, type(session).__name__)\n"
    )
    result = run_python(probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "Session"]
    with pytest.raises(ImportError, match="cannot import name 'nope'"):
        from ticktick.oauth2 import nope  # noqa: F401
