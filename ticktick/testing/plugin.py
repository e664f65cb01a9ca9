"""The pytest plugin of ticktick-oauth: the ``fake_ticktick`` fixture.

Registered through the ``pytest11`` entry point, so it is available in every test
suite of a project that installs ticktick-oauth.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeTickTick


@pytest.fixture
def fake_ticktick() -> Iterator[FakeTickTick]:
    """A running [`FakeTickTick`][ticktick.testing.server.FakeTickTick], stopped after the test."""
    with FakeTickTick() as server:
        yield server
