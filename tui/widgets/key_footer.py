"""The key line at the foot of the screen: the keys the focused widget and its ancestors bind
(those shown), and at the right, after a divider, the keys a person must always find: help, quit
and the command palette. In a text box, where letters type, the right side says how to leave
the box (escape) and quit (^q) instead.

Textual's ``Footer`` rebuilds itself from a widget per key whenever the bindings change, which is
every focus change: after each pane switch that cost a layout pass of ~40 ms and some hundreds of
widgets' worth of objects for the garbage collector. This line redraws one row of text instead,
and only when what it shows has changed. Keys that do not fit are left out whole, never cut.
A click on a key presses it, as in Textual's footer.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea

from core.i18n import N_, _

DIVIDER = "▏"
ALWAYS = ("help", "quit")  # actions shown at the right whatever has the focus
IN_TEXT_BOX = ("leave_input", "quit")  # the same, while letters type into a text box
# the descriptions of Textual's own bindings the line shows, for the catalog (the app's and the
# panes' are marked N_ where they are bound); every description is translated where drawn
TEXTUAL_DESCRIPTIONS = (N_("palette"),)


@dataclass(frozen=True)
class FooterKey:
    key: str  # what a click presses
    shown: str  # the key as drawn: "^s", "space"
    description: str  # as bound, in English: translated where drawn
    enabled: bool


class KeyFooter(Widget, can_focus=False):
    ALLOW_SELECT = False
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyFooter > .key-footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyFooter > .key-footer--divider {
        color: $foreground 20%;
    }
    """
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description", "key-footer--divider"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys: tuple[FooterKey, ...] = ()
        self.right: tuple[FooterKey, ...] = ()  # help, quit, the palette
        self._spans: list[tuple[int, int, FooterKey]] = []  # (start, end, key) as last drawn

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen:
            return
        keys, right = self.read_keys(screen)
        if (keys, right) != (self.keys, self.right):
            self.keys, self.right = keys, right
            self.refresh()

    def read_keys(self, screen: Screen) -> tuple[tuple[FooterKey, ...], tuple[FooterKey, ...]]:
        """The focused widget's keys, one per action (the first shown binding found), and the
        keys of the right side."""
        app = self.app
        typing = isinstance(screen.focused, (Input, TextArea))
        seen: set[str] = set()
        keys: list[FooterKey] = []
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.show and binding.action not in seen and binding.action not in ALWAYS:
                seen.add(binding.action)
                keys.append(
                    FooterKey(
                        binding.key, app.get_key_display(binding), binding.description, enabled
                    )
                )
        # the right side from the app's own bindings (a pane may lend escape another meaning
        # while it has work to stop); in a text box a printable key types, so quit is its ^key
        shown: list[FooterKey] = []
        for action in IN_TEXT_BOX if typing else ALWAYS:
            binding = next(
                (
                    b
                    for b in app.BINDINGS
                    if isinstance(b, Binding)
                    and b.action == action
                    and (len(b.key) > 1 or not typing)
                ),
                None,
            )
            if binding is not None:
                shown.append(
                    FooterKey(binding.key, app.get_key_display(binding), binding.description, True)
                )
        if app.ENABLE_COMMAND_PALETTE:
            found = screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _node, binding, enabled, _tooltip = found
                shown.append(
                    FooterKey(
                        binding.key, app.get_key_display(binding), binding.description, enabled
                    )
                )
        return tuple(keys), tuple(shown)

    def relabel(self) -> None:
        self.refresh()  # the descriptions are translated as the line is drawn

    def text(self) -> str:
        """The line as drawn, for tests."""
        return self.render().plain

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-footer--key")
        desc_style = self.get_component_rich_style("key-footer--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, FooterKey]] = []

        def add(entry: FooterKey, key: str, description: str) -> None:
            start = line.cell_len
            dim = Style(dim=not entry.enabled)
            line.append(key, key_style + dim)
            if description:
                line.append(description, desc_style + dim)
            spans.append((start, line.cell_len, entry))

        def parts(entry: FooterKey) -> tuple[str, str]:
            if not entry.description:
                return f" {entry.shown} ", ""
            return f" {entry.shown} ", f"{_(entry.description)} "

        # the right side keeps its place: help, quit and the palette are always there
        room = self.size.width
        if self.right:
            room -= cell_len(DIVIDER) + sum(cell_len("".join(parts(e))) for e in self.right) - 1
        for entry in self.keys:
            key, description = parts(entry)
            if line.cell_len + cell_len(key + description) > room:
                break  # whole keys only: the ones that do not fit are left out
            add(entry, key, description)
        if self.right and room > 0:
            line.pad_right(room - line.cell_len)
            line.append(DIVIDER, self.get_component_rich_style("key-footer--divider"))
            for i, entry in enumerate(self.right):
                key, description = parts(entry)
                add(entry, key[1:] if i == 0 else key, description)
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, entry in self._spans:
            if start <= event.x < end:
                if entry.enabled:
                    self.app.simulate_key(entry.key)
                else:
                    self.app.bell()
                return
