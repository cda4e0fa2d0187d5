"""The lesson under the panes: the lesson's title and its steps' marks, the step to do now with
the lesson's figure and the live one, and, where the screen is tall enough, every step.

The steps are read off the panes four times a second while a lesson is open (nothing is asked of
the engine); a step once done stays ticked, and the learner's place in every lesson is kept when
the panel closes or another lesson opens.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from core.i18n import _, ngettext
from tui.lessons import saved
from tui.lessons.content import LESSONS, Lesson, Step, lesson
from tui.lessons.figure import english, said

POLL_S = 0.25  # how often the steps are checked while a lesson is open
TALL = 40  # screen rows from which every step is listed, not only the one to do now
DONE, NOW, LATER = "✓", "▸", "·"


class LessonPanel(Widget, can_focus=False):
    SCOPED_CSS = False  # the second rule is about the screen's notifications
    DEFAULT_CSS = """
    LessonPanel {
        height: auto;
        max-height: 16;
        background: $panel;
        border-top: solid $primary;
        padding: 0 1;
        display: none;
    }
    /* while a lesson is open its steps are at the foot: notifications go to the top */
    Screen.-lesson-open ToastRack { align: right top; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current: Lesson | None = None
        # the steps done and the live figure each showed when it was done, kept between
        # sessions (tui.lessons.saved): read when the panel first opens
        self.done: dict[str, set[int]] = {x.key: set() for x in LESSONS}
        self.seen: dict[tuple[str, int], str] = {}
        self._loaded = False
        self.last_done: dict[str, int] = {}  # the step done most recently, per lesson
        # after a restart, what each step showed then: it ticks only on fresh evidence (its
        # check false, then true; or its figure changed), not on what was already on screen
        self.before: dict[tuple[str, int], tuple[bool, str | None]] = {}
        self.cell_base: dict[str, int] = {}  # playground cells before the lesson (re)started
        self._shown: Text | None = None
        self._timer = None

    # -- which lesson ----------------------------------------------------------------------------

    def load(self) -> None:
        """The learner's place from earlier sessions (once)."""
        if self._loaded:
            return
        self._loaded = True
        done, seen, note = saved.load({x.key: len(x.steps) for x in LESSONS})
        self.done, self.seen = done, seen
        if note:
            self.app.notify(note, title=_("lessons"), severity="warning", timeout=10)

    def open(self, key: str) -> None:
        self.load()
        self.current = lesson(key)
        self.display = True
        self.screen.add_class("-lesson-open")
        if self._timer is None:
            self._timer = self.set_interval(POLL_S, self.check)
        self.check()
        nxt = self.next_step()
        if nxt is not None and nxt[1].recipe:
            _put_recipe(self.app, nxt[1].recipe)

    def close(self) -> None:
        self.current = None
        self.display = False
        self.screen.remove_class("-lesson-open")
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def restart(self, key: str) -> None:
        """Clear a lesson's ticks, to do it again (the others keep theirs). What is on screen
        now does not tick a step again: the learner does it afresh."""
        from tui.lessons import probes

        self.load()
        x = lesson(key)
        self.done[key] = set()
        self.seen = {k: v for k, v in self.seen.items() if k[0] != key}
        self.last_done.pop(key, None)
        self.cell_base[key] = len(probes.cells(self.app))
        for i, s in enumerate(x.steps):
            if not s.setup:
                live = _safe(s.live, self.app)
                self.before[(key, i)] = (bool(_safe(s.done, self.app)), live and english(live))
        self._shown = None
        saved.save(self.done, self.seen)

    def first_unfinished(self) -> str | None:
        """The open lesson if it has steps left, else the first lesson that has."""
        self.load()
        keys = [x.key for x in LESSONS if len(self.done[x.key]) < len(x.steps)]
        if self.current is not None and self.current.key in keys:
            return self.current.key
        return keys[0] if keys else None

    def _fresh(self, key: str, i: int, step: Step) -> bool:
        """Whether step ``i`` is done now, on evidence newer than a restart."""
        if not _safe(step.done, self.app):
            if (key, i) in self.before:
                self.before[(key, i)] = (False, None)
            return False
        if (key, i) not in self.before:
            return True
        was_done, was_live = self.before[(key, i)]
        live = _safe(step.live, self.app)
        if was_done and (live and english(live)) == was_live:
            return False
        del self.before[(key, i)]
        return True

    def next_step(self) -> tuple[int, Step] | None:
        """The first step not done yet in the current lesson."""
        if self.current is None:
            return None
        done = self.done[self.current.key]
        return next(((i, s) for i, s in enumerate(self.current.steps) if i not in done), None)

    def progress(self, key: str) -> str:
        x = lesson(key)
        return f"{len(self.done[key])}/{len(x.steps)}"

    # -- checking --------------------------------------------------------------------------------

    def check(self) -> None:
        """Tick what the person has done; redraw when what the panel says has changed."""
        x = self.current
        if x is None:
            return
        before = self.next_step()
        done = self.done[x.key]
        ticked = False
        for i, s in enumerate(x.steps):
            if i not in done and self._fresh(x.key, i, s):
                done.add(i)
                self.last_done[x.key] = i
                live = _safe(s.live, self.app)
                if live:  # a Figure is kept as it is: it says itself in each language
                    self.seen[(x.key, i)] = live if isinstance(live, str) else str(live)
                ticked = True
        if ticked:
            saved.save(self.done, self.seen)
        after = self.next_step()
        if after is not None and after != before and after[1].recipe:
            _put_recipe(self.app, after[1].recipe)
        text = self.draw()
        if self._shown is None or text.plain != self._shown.plain:
            rows = self._rows(text)
            self._shown = text
            # a new layout only when the panel's height changes: live figures change in place
            self.refresh(layout=rows != self._drawn_rows)
            self._drawn_rows = rows

    _drawn_rows = 0

    def _rows(self, text: Text) -> int:
        width = max(1, self.content_region.width or self.app.size.width - 2)
        return len(text.wrap(self.app.console, width))

    def draw(self) -> Text:
        x = self.current
        out = Text(no_wrap=False)
        if x is None:
            return out
        done = self.done[x.key]
        marks = " ".join(DONE if i in done else LATER for i in range(len(x.steps)))
        nxt = self.next_step()
        if nxt is not None:
            marks = " ".join(
                DONE if i in done else NOW if i == nxt[0] else LATER for i in range(len(x.steps))
            )
        out.append(f"{x.key} {said(x.title)}", style="bold")
        out.append(f"  {marks}", style="bold")
        out.append("  " + _("(L: lessons)"), style="dim")
        tall = self.app.size.height >= TALL
        last = self.last_done.get(x.key)
        for i, s in enumerate(x.steps):
            is_next = nxt is not None and i == nxt[0]
            if not (tall or is_next or i == last):
                continue
            mark = DONE if i in done else NOW if is_next else LATER
            line = f"\n{mark} {i + 1}/{len(x.steps)} {said(s.do)}"
            out.append(line, style="bold" if is_next else "")
            expect = " · " + _("lesson {figure}").format(figure=said(s.expect))
            if is_next:
                live = _safe(s.live, self.app)
                out.append("\n    ")
                out.append(_("now {figure}").format(figure=live) if live else _("now —"), "bold")
                out.append(expect, style="dim")
            elif i in done:
                out.append("\n    ")
                seen = self.seen.get((x.key, i), "—")
                out.append(_("was {figure}").format(figure=seen), style="bold")
                out.append(expect, style="dim")
        if nxt is None:
            n = len(x.steps)
            out.append(f"\n{DONE} ")
            out.append(
                ngettext(
                    "all {n} step done: L opens the next lesson",
                    "all {n} steps done: L opens the next lesson",
                    n,
                ).format(n=n)
            )
        return out

    def relabel(self) -> None:
        """After a switch of language: the lesson's words said again, its figures too."""
        if self.current is not None:
            self._shown = self.draw()
            self._drawn_rows = self._rows(self._shown)

    def render(self) -> Text:
        return self._shown if self._shown is not None else self.draw()


def _put_recipe(app, key: str) -> None:
    from tui.lessons.start import put_recipe

    put_recipe(app, key)


def _safe(probe, app):
    """A probe's answer, or None while what it reads is not there yet (a pane being built)."""
    try:
        return probe(app)
    except Exception:  # noqa: BLE001 — a lesson never takes the app down
        return None
