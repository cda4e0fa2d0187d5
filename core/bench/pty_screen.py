"""The app's screen as a person sees it: a :class:`~core.bench.app_probes.PtyApp` whose output
is fed to a terminal emulator (``pyte``), read in frames, each timed by when its bytes arrived.

A reader thread only reads the pseudo-terminal and stamps each chunk with the time ``os.read``
returned it; the emulator is fed on the caller's thread, so a slow feed delays no stamp. A
*frame* is a burst of chunks each read within :data:`BURST_GAP_S` of the one before (the app
writes one screen update in one go, which the terminal hands over in pieces of up to 4 KiB); a
frame's time is that of its last chunk, the moment the terminal could show it whole. Textual
brackets an update (synchronised output, mode 2026) only for a terminal that answers its query
for the mode; nothing answers here, so the burst is the frame.

``pyte`` is imported when a screen is made: ``core`` loads no terminal library at import."""

from __future__ import annotations

import os
import queue
import re
import time
from collections.abc import Callable
from pathlib import Path

from core.bench.app_probes import TERM_SIZE, PtyApp

BURST_GAP_S = 0.002  # chunks closer than this belong to one screen update
STRIP_TAIL = 8  # characters of the text the token strip must end with
Lines = list[str]
Check = Callable[[Lines], bool]


class PtyScreen(PtyApp):
    """A command in a pseudo-terminal, its output drawn on an emulated screen of ``size``."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        size: tuple[int, int] = TERM_SIZE,
    ) -> None:
        import pyte

        self.screen = pyte.Screen(*size)
        self.stream = pyte.ByteStream(self.screen)
        self._chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
        self._pending: tuple[float, bytes] | None = None
        self.closed = False  # the program closed its terminal (exited)
        # called with each frame's time and lines, once it is on the screen
        self.on_frame: Callable[[float, Lines], None] | None = None
        super().__init__(argv, env=env, cwd=cwd, size=size)  # starts the reader

    def _received(self, chunk: bytes) -> None:
        """On the reader thread: stamp and queue; nothing else (the caller feeds the screen)."""
        self._chunks.put((time.perf_counter(), chunk))
        super()._received(chunk)

    def _ended(self) -> None:
        self._chunks.put((time.perf_counter(), b""))

    def _take(self, until: float) -> tuple[float, bytes] | None:
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        if self.closed:
            return None
        wait = until - time.perf_counter()
        try:
            item = self._chunks.get(timeout=wait) if wait > 0 else self._chunks.get_nowait()
        except queue.Empty:
            return None
        if not item[1]:
            self.closed = True
            return None
        return item

    def next_frame(self, deadline: float) -> float | None:
        """Feed the next frame to the screen; its time, or None if none began by ``deadline``
        (``time.perf_counter``) or the program has closed its terminal."""
        item = self._take(deadline)
        if item is None:
            return None
        stamp, chunk = item
        chunks = [chunk]
        while True:
            item = self._take(stamp + BURST_GAP_S)
            if item is not None and item[0] - stamp > BURST_GAP_S:
                self._pending = item  # the next frame's first chunk
                item = None
            if item is None:
                # fed once the frame is all in: pyte's parsing holds the GIL for milliseconds,
                # and the reader thread, back from os.read, would wait for it to stamp a chunk
                self.stream.feed(b"".join(chunks))
                if self.on_frame is not None:
                    self.on_frame(stamp, self.lines)
                return stamp
            stamp = item[0]
            chunks.append(item[1])

    def catch_up(self) -> None:
        """Feed everything read so far: the screen as it is now."""
        while self.next_frame(time.perf_counter()) is not None:
            pass

    @property
    def lines(self) -> Lines:
        return self.screen.display

    def wait_for(
        self, checks: dict[str, Check], until: str, timeout: float
    ) -> dict[str, float | None]:
        """Read frames until ``checks[until]`` holds, or for ``timeout`` seconds; for each check,
        the time of the first frame where it held (None: not within the time). The screen as it
        is now counts as a frame at the current time."""
        deadline = time.perf_counter() + timeout
        seen: dict[str, float | None] = dict.fromkeys(checks)

        def look(stamp: float) -> bool:
            lines = self.lines
            for name, check in checks.items():
                if seen[name] is None and check(lines):
                    seen[name] = stamp
            return seen[until] is not None

        if look(time.perf_counter()):
            return seen
        while True:
            stamp = self.next_frame(deadline)
            if stamp is None or look(stamp):
                return seen

    def send_at(self, keys: str) -> float:
        """Write ``keys`` to the terminal; the time they were written."""
        data = keys.encode()
        stamp = time.perf_counter()
        os.write(self.master, data)
        return stamp

    def screen_tail(self) -> str:
        return " | ".join(line.rstrip() for line in self.lines if line.strip())[-600:]


def find_row(lines: Lines, pattern: str) -> int | None:
    """The first row matching the regular expression ``pattern``."""
    rx = re.compile(pattern)
    for n, line in enumerate(lines):
        if rx.search(line):
            return n
    return None


def shows(pattern: str) -> Check:
    """A check: some row matches ``pattern``."""
    return lambda lines: find_row(lines, pattern) is not None


# -- what the app's screen shows ------------------------------------------------------------

PANE_MARKS = {  # a line of each pane's own, drawn from its first frame
    "summary": r"No model summary yet|\binput \[[\d, ]+\]",
    "train": r"\d·zero_grad",
    "playground": r"enter runs · |training runs: a cell waits|running… ctrl\+c",
    "predict": r"│ top-k \S+ .*│ top-p ",
}
READY = r"ready\s+│.*step \d+/[1-9]"  # the status bar once a model is configured (0/0 before)
STATUS_STEP = re.compile(r"│ step (\d+)/")
SUMMARY_TABLE = r"params [\d,]+ +trainable"


def squash(line: str) -> str:
    """A token strip's row as text: the spacing between cells gone, ␣ back to a space."""
    return line.replace(" ", "").replace("␣", " ")


def strip_shows(lines: Lines, text: str) -> bool:
    """Whether a row outside the text box ends with ``text``'s last characters, drawn as the
    token strip draws them."""
    tail = text[-STRIP_TAIL:]
    return any(squash(line).endswith(tail) for line in lines if not line.startswith("▊"))


def prediction_block(lines: Lines) -> str | None:
    """The info line and the bars (left of the side panel), down to the controls line; None
    while no bars are drawn."""
    head = find_row(lines, r"next character")
    if head is None:
        return None
    col = lines[head].find("▏")  # the side panel's border on the header row
    end = find_row(lines[head:], r"│ top-k ")
    rows = lines[head : head + end if end is not None else len(lines)]
    cut = [row[:col] if col > 0 else row for row in rows]
    return "\n".join([lines[head - 1] if head else "", *cut])


def painted(text: str, before: str | None):
    """The keystroke criterion: the strip ends with ``text`` and the block has changed."""

    def check(lines: Lines) -> bool:
        block = prediction_block(lines)
        return block is not None and block != before and strip_shows(lines, text)

    return check


def box_text(lines: Lines) -> list[str]:
    """What the text boxes show: each row framed by ▊ … ▎, inside the frame, stripped."""
    rows = (line.rstrip() for line in lines)
    return [row[1:-1].strip() for row in rows if row.startswith("▊") and row.endswith("▎")]


def echoed(text: str):
    """A text box shows ``text``'s end (a trailing space shows nothing: not a test of it)."""

    def check(lines: Lines) -> bool:
        return any(row.endswith(text.rstrip()[-12:]) for row in box_text(lines) if row)

    return check


def cell_shown(expr: str, value: str):
    """The transcript shows ``In [n] expr`` and, on the next row, ``value``."""
    rx = re.compile(r"^In \[\d+\] " + re.escape(expr) + r"\s*$")

    def check(lines: Lines) -> bool:
        return any(
            rx.match(line) and lines[n + 1].strip() == value for n, line in enumerate(lines[:-1])
        )

    return check


def status_step(lines: Lines) -> int | None:
    """The step on the status bar (at the top), if it shows one."""
    for line in lines[:3]:
        m = STATUS_STEP.search(line)
        if m:
            return int(m.group(1))
    return None


def pane_shown(pane: str, previous: str | None):
    """``pane``'s own line is on the screen and ``previous``'s is not."""

    def check(lines: Lines) -> bool:
        if find_row(lines, PANE_MARKS[pane]) is None:
            return False
        return previous is None or find_row(lines, PANE_MARKS[previous]) is None

    return check
