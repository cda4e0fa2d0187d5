"""The garbage collector's full passes run when nobody is typing.

Python starts a full collection on its own after ten young ones, whatever the app is doing at the
time. In the app a full pass costs 30–45 ms (up to 130 ms before the panes' widgets were frozen
out of it), so one that fell on a keystroke or a pane switch cost that key two or three frames;
traced in the app, a pane switch took 185 ms when one struck during its layout. Much of what the
passes free is Textual's rendering (strips whose caches hold themselves, so only a full pass can
free them), so they cannot simply be avoided.

:class:`QuietCollector` turns Python's automatic full passes off and runs one from the app's
heartbeat once one is due (as often as Python would) and no key or click has come for
:data:`QUIET_S`; if keys keep coming, one runs anyway once it is :data:`OVERDUE` passes late, so
memory stays bounded. Young collections are left to Python: they take a millisecond or two.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET_S = 1.0  # no key or click for this long: a full pass now will not be felt
DUE = 10  # young-to-middle passes since the last full one: when Python itself starts one
OVERDUE = 100  # this many: a full pass runs even while keys keep coming
NEVER = 1 << 30  # Python's own trigger for a full pass, turned off


class QuietCollector:
    """Full collections at quiet moments. ``install`` when the app runs, ``tick`` from its
    heartbeat, ``input_seen`` on each key or click, ``uninstall`` when it ends."""

    def __init__(
        self,
        count: Callable[[], tuple[int, int, int]] = gc.get_count,
        collect: Callable[[int], int] = gc.collect,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count, self._collect, self._clock = count, collect, clock
        self.last_input = clock()
        self.saved: tuple[int, int, int] | None = None  # Python's thresholds, while installed
        self.full_passes = 0  # run by this collector

    def install(self) -> None:
        if self.saved is None:
            self.saved = gc.get_threshold()
            young, middle, _old = self.saved
            gc.set_threshold(young, middle, NEVER)

    def uninstall(self) -> None:
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None

    def input_seen(self) -> None:
        self.last_input = self._clock()

    def tick(self) -> bool:
        """Run a full pass if one is due and it is quiet, or if one is overdue."""
        if self.saved is None:
            return False
        pending = self._count()[2]
        quiet = self._clock() - self.last_input >= QUIET_S
        if pending >= OVERDUE or (pending >= DUE and quiet):
            self._collect(2)
            self.full_passes += 1
            return True
        return False
