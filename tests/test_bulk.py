"""The collector's pauses around bulk work (`core.bulk.collector_paused`)."""

import gc
import threading

import pytest

from core.bulk import collector_paused


@pytest.fixture
def collector_enabled():
    enabled = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if enabled else gc.disable()


def test_a_pause_disables_the_collector_and_its_end_restores_it(collector_enabled):
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner pause's end left the outer pause running"
    assert gc.isenabled()


def test_a_pause_that_raises_still_restores_the_collector(collector_enabled):
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the bulk work failed")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled(collector_enabled):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_pauses_in_two_threads_end_when_the_last_ends(collector_enabled):
    started, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            started.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert started.wait(5)
    assert not gc.isenabled(), "the first pause to end restored the collector too early"
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_decorated_function_runs_paused(collector_enabled):
    @collector_paused()
    def work() -> bool:
        return gc.isenabled()

    assert work() is False and work() is False
    assert gc.isenabled()
