"""The public API: every name in __all__ imports, lazily, and the package is typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ticktick


def test_every_public_name_imports() -> None:
    assert set(ticktick.__all__) == {*ticktick._WHERE, "__version__"}
    for name in ticktick.__all__:
        assert getattr(ticktick, name) is not None
    assert dir(ticktick) == sorted(ticktick.__all__)


def test_unknown_name() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ticktick.nope


def test_import_is_light() -> None:
    probe = "import sys, ticktick; print('requests' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_py_typed_is_shipped() -> None:
    assert (Path(ticktick.__file__).parent / "py.typed").exists()
