"""Old quirks, found by an outside review: immutable values that would not pickle or copy,
and a lock held by a thread of this very process named as "process <our own pid>".
"""

from __future__ import annotations

import contextlib
import copy
import logging
import pickle
import threading
from pathlib import Path
from typing import TypeVar

import pytest
from helpers import IDENTITY, hold_in_a_thread

from ticktick import OAuth2, TokenIdentity
from ticktick.endpoints import DIDA365, TICKTICK, Endpoints
from ticktick.errors import TokenCacheError
from ticktick.stores.locks import ANNOUNCE_AFTER, FileLock

# -- immutable values pickle and copy ----------------------------------------------------

Value = TypeVar("Value")


def roundtrip(value: Value, protocol: int = pickle.DEFAULT_PROTOCOL) -> Value:
    """*value* pickled and read back (our own bytes: nothing untrusted is unpickled)."""
    again: Value = pickle.loads(pickle.dumps(value, protocol))  # noqa: S301
    return again


@pytest.mark.parametrize(
    "value",
    [
        IDENTITY,
        TokenIdentity("dida365.com", None, None),
        TokenIdentity("http://127.0.0.1:8000", "cid", "tasks:write  tasks:read"),
        TICKTICK,
        DIDA365,
        Endpoints.from_base_url("http://127.0.0.1:8000/"),
    ],
    ids=[
        "identity",
        "identity-of-any-app",
        "identity-of-a-base-url",
        "ticktick",
        "dida365",
        "base-url",
    ],
)
def test_an_immutable_value_pickles_and_copies(value: TokenIdentity | Endpoints) -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = roundtrip(value, protocol)
        assert again == value
        assert type(again) is type(value)
        assert hash(again) == hash(value)
    assert copy.copy(value) == value
    assert copy.deepcopy(value) == value
    assert copy.deepcopy({"a": value, "b": [value]}) == {"a": value, "b": [value]}


def test_a_copied_value_stays_immutable() -> None:
    again = roundtrip(IDENTITY)
    with pytest.raises(AttributeError, match="TokenIdentity is immutable"):
        again.host = "dida365.com"
    endpoints = roundtrip(TICKTICK)
    with pytest.raises(AttributeError, match="Endpoints is immutable"):
        endpoints.host = "dida365.com"


def test_deep_copying_oauth2_copies_or_refuses_plainly(tmp_path: Path) -> None:
    """Its Endpoints no longer break a deep copy; a lock it holds may refuse, as a TypeError."""
    oauth = OAuth2(
        "cid", "sec", "http://127.0.0.1:8080/", cache_path=tmp_path / "cache", resolve=False
    )
    with contextlib.suppress(TypeError):  # "cannot pickle '_thread.RLock' object"
        assert copy.deepcopy(oauth) is not oauth


# -- a lock held by another thread of this process ---------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["one-lock-object", "two-lock-objects"])
def test_a_file_lock_held_by_another_thread_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, shared: bool
) -> None:
    path = str(tmp_path / "cache.lock")
    theirs = FileLock(path)
    ours = theirs if shared else FileLock(path)
    release, thread = hold_in_a_thread(theirs)
    try:
        with pytest.raises(TokenCacheError) as caught, ours.hold(0.1):
            pass
        message = str(caught.value)
        assert f"Waited 0.1 s for the lock {path}, held by another thread of this process." in (
            message
        )
        assert "held by process" not in message
        threading.Timer(ANNOUNCE_AFTER + 0.5, release.set).start()
        with caplog.at_level(logging.WARNING, logger="ticktick"), ours.hold(30):
            pass
    finally:
        release.set()
        thread.join(10)
    (said,) = [r.getMessage() for r in caplog.records if "Waiting" in r.getMessage()]
    assert said.startswith(
        f"Waiting up to 30 s for another thread of this process, which holds the lock {path}"
    )
