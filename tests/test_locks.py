"""The one poll loop (`ticktick._deadline.poll`) and the one lock primitive (`Lock`).

Real threads and real processes; nothing of ours is patched.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest
from helpers import file_lock_held_elsewhere, hold_in_a_thread

from ticktick._deadline import Countdown, poll
from ticktick.errors import TokenCacheError
from ticktick.stores.locks import ANNOUNCE_AFTER, FileLock, Lock, ThreadLock

# -- poll ----------------------------------------------------------------------------------


def test_poll_returns_at_once_when_ready() -> None:
    waits: list[float] = []

    def ready(wait: float) -> bool:
        waits.append(wait)
        return True

    assert poll(ready, 10, interval=0.5) is True
    assert len(waits) == 1
    assert 0 < waits[0] <= 0.5  # the try may block for one interval at most


def test_poll_with_no_time_tries_once() -> None:
    waits: list[float] = []

    def never(wait: float) -> bool:
        waits.append(wait)
        return False

    assert poll(never, 0, interval=0.5) is False
    assert waits == [0.0]


def test_poll_gives_up_when_the_time_is_up_and_tries_at_the_end() -> None:
    tries: list[float] = []

    def never(wait: float) -> bool:
        tries.append(time.monotonic())
        return False

    started = time.monotonic()
    assert poll(never, 0.3, interval=0.05) is False
    assert tries[-1] - started >= 0.3  # the last try came when the time was up
    assert len(tries) >= 2


def test_a_blocking_try_gets_what_it_waits_for_the_moment_it_is_free() -> None:
    lock = threading.Lock()
    lock.acquire()
    threading.Timer(0.2, lock.release).start()
    countdown = Countdown(60)
    # One try blocks for up to the whole interval: released after 0.2 s, taken then.
    assert poll(lambda wait: lock.acquire(timeout=wait), 60, interval=30) is True
    assert countdown.waited() < 30  # well under the interval: not at its end
    lock.release()


def test_a_try_that_cannot_block_is_spaced_by_the_interval() -> None:
    tries: list[float] = []
    done = threading.Event()
    threading.Timer(0.5, done.set).start()

    def looked(wait: float) -> bool:
        tries.append(wait)
        return done.is_set()

    countdown = Countdown(30)
    assert poll(looked, 30, interval=0.1) is True
    assert 2 <= len(tries) <= countdown.waited() / 0.1 + 2  # one per interval: no busy loop


def test_poll_backs_off_to_max_interval() -> None:
    waits: list[float] = []

    def never(wait: float) -> bool:
        waits.append(wait)
        return False

    assert poll(never, 0.6, interval=0.01, max_interval=0.08) is False
    assert waits[:4] == [0.01, 0.02, 0.04, 0.08]
    assert max(waits) <= 0.08
    assert len(waits) <= 14  # 0.01 + 0.02 + 0.04 + 0.08 * n: not 60 tries of 0.01 s


def test_poll_says_once_when_the_wait_is_slow() -> None:
    said: list[float] = []
    done = threading.Event()
    threading.Timer(0.6, done.set).start()
    countdown = Countdown(30)
    assert poll(
        lambda wait: done.wait(wait),
        30,
        interval=0.05,
        slow_after=0.2,
        on_slow=lambda: said.append(countdown.waited()),
    )
    assert len(said) == 1
    assert said[0] >= 0.2


def test_poll_does_not_say_anything_when_quick() -> None:
    said: list[str] = []
    assert poll(lambda wait: True, 30, interval=0.05, slow_after=0, on_slow=lambda: said.append(""))
    assert said == []


def test_an_error_in_a_try_ends_the_wait() -> None:
    def broken(wait: float) -> bool:
        raise TokenCacheError("the store went away")

    with pytest.raises(TokenCacheError, match="went away"):
        poll(broken, 30, interval=0.05)


def test_countdown() -> None:
    countdown = Countdown(0.1)
    assert 0 < countdown.left() <= 0.1
    time.sleep(0.15)
    assert countdown.left() == 0
    assert countdown.waited() >= 0.15


# -- the lock primitive --------------------------------------------------------------------


class DirectoryLock(Lock):
    """A kind of lock in a dozen lines: a folder that exists while it is held."""

    def __init__(self, path: Path, timeout: float = 5) -> None:
        super().__init__(timeout)
        self.path = path

    @property
    def name(self) -> str:
        return f"the folder {self.path}"

    def try_acquire(self, wait: float) -> bool:
        try:
            self.path.mkdir()
        except FileExistsError:
            return False
        return True

    def release(self) -> None:
        self.path.rmdir()

    def holder(self) -> str:
        return "whoever made it"


def test_a_new_kind_of_lock_gets_reentry_waiting_and_messages(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock = DirectoryLock(tmp_path / "held")
    with lock.hold(), lock.hold():  # re-entered by the holding thread
        assert lock.path.is_dir()
    assert not lock.path.exists()  # released once, by the outer holding

    (tmp_path / "held").mkdir()  # someone else holds it
    threading.Timer(ANNOUNCE_AFTER + 0.5, (tmp_path / "held").rmdir).start()
    with caplog.at_level(logging.WARNING, logger="ticktick"), lock.hold(30):
        pass
    (said,) = [r.getMessage() for r in caplog.records if "Waiting" in r.getMessage()]
    assert said.startswith(
        f"Waiting up to 30 s for whoever made it, which holds the folder {tmp_path / 'held'}"
    )

    (tmp_path / "held").mkdir()
    with pytest.raises(TokenCacheError) as caught, lock.hold(0.2):
        pass
    assert str(caught.value) == (
        f"Waited 0.2 s for the folder {tmp_path / 'held'}, held by whoever made it."
    )


def _run_alone(lock: Lock, threads: int = 4, rounds: int = 20) -> int:
    """Run *threads* threads that each hold *lock* *rounds* times; the most inside at once."""
    inside = 0
    most = 0
    count = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(rounds):
            with lock.hold(30):
                with count:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with count:
                    inside -= 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return most


def test_thread_lock_excludes_threads() -> None:
    assert _run_alone(ThreadLock("the test")) == 1


def test_one_file_lock_excludes_the_threads_that_share_it(tmp_path: Path) -> None:
    assert _run_alone(FileLock(str(tmp_path / "shared.lock"))) == 1


def test_thread_lock_says_it_waits_and_times_out(caplog: pytest.LogCaptureFixture) -> None:
    lock = ThreadLock("the test")
    release, thread = hold_in_a_thread(lock, depth=2)
    try:
        with pytest.raises(TokenCacheError) as caught, lock.hold(0.1):
            pass
        assert str(caught.value) == "Waited 0.1 s for the lock of the test, held by another thread."
        threading.Timer(ANNOUNCE_AFTER + 0.5, release.set).start()
        with caplog.at_level(logging.WARNING, logger="ticktick"), lock.hold(30):
            pass
    finally:
        release.set()
        thread.join(10)
    (said,) = [r.getMessage() for r in caplog.records if "Waiting" in r.getMessage()]
    assert said.startswith(
        "Waiting up to 30 s for another thread, which holds the lock of the test"
    )


def test_file_lock_names_the_process_it_waits_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "cache.lock")
    with file_lock_held_elsewhere(path, ANNOUNCE_AFTER + 1) as holder:
        lock = FileLock(path)
        with pytest.raises(TokenCacheError) as caught, lock.hold(0.1):
            pass
        assert f"Waited 0.1 s for the lock {path}, held by process {holder.pid}." in str(
            caught.value
        )
        with (
            caplog.at_level(logging.WARNING, logger="ticktick"),
            lock.hold(30),
            open(path) as sidecar,
        ):
            assert sidecar.read() == f"{os.getpid()}\n"  # this process holds it now
        assert holder.wait(30) == 0
    (said,) = [r.getMessage() for r in caplog.records if "Waiting" in r.getMessage()]
    assert said.startswith(f"Waiting up to 30 s for process {holder.pid}, which holds the lock")
    with open(path) as sidecar:
        assert sidecar.read() == ""  # released: no holder named
