"""Full garbage collections at quiet moments: Python's own trigger is off while the collector is
installed (and back after), a due pass waits for a second without input, an overdue one does not
wait, and the app feeds it keys and ticks."""

from __future__ import annotations

import gc

from tests.tui.conftest import FakeClient
from tui.app import TorchdeckApp
from tui.quiet_gc import DUE, NEVER, OVERDUE, QUIET_S, QuietCollector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def collector(pending: list[int], clock: Clock, passes: list[int]) -> QuietCollector:
    return QuietCollector(
        count=lambda: (0, 0, pending[0]),
        collect=lambda gen: passes.append(gen) or 0,
        clock=clock,
    )


def test_python_s_full_passes_are_off_while_installed_and_back_after():
    before = gc.get_threshold()
    quiet = QuietCollector()
    quiet.install()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        quiet.install()  # twice: still restores Python's own
    finally:
        quiet.uninstall()
    assert gc.get_threshold() == before


def test_a_due_pass_waits_for_quiet_and_an_overdue_one_does_not():
    pending, clock, passes = [0], Clock(), []
    quiet = collector(pending, clock, passes)
    assert not quiet.tick()  # not installed: Python's own trigger is in charge
    before = gc.get_threshold()
    quiet.install()
    try:
        pending[0] = DUE - 1
        clock.now += 5
        assert not quiet.tick() and passes == []  # quiet, but nothing due
        pending[0] = DUE
        quiet.input_seen()
        clock.now += QUIET_S / 2
        assert not quiet.tick()  # due, but a key came half a second ago
        clock.now += QUIET_S / 2
        assert quiet.tick() and passes == [2]  # a second without input: the full pass
        pending[0] = OVERDUE
        quiet.input_seen()
        assert quiet.tick() and passes == [2, 2]  # overdue: even while keys keep coming
        assert quiet.full_passes == 2
    finally:
        quiet.uninstall()
    assert gc.get_threshold() == before


async def test_the_app_installs_it_and_keys_reach_it():
    before = gc.get_threshold()
    app = TorchdeckApp(client=FakeClient())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert gc.get_threshold()[2] == NEVER
        seen = app.collector.last_input
        await pilot.press("x")
        assert app.collector.last_input > seen
    assert gc.get_threshold() == before
