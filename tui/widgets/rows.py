"""A widget drawn row by row from (text, style) pieces, through Textual's line API.

A widget that returns Rich ``Text`` from ``render()`` has it converted to Textual content,
wrapped and cut into strips on every repaint: measured in the Predict pane, about two thirds of
the 6.5 ms that painting a keystroke's bars took. A :class:`Rows` widget builds its strips once
per change (or size, or style) and hands them out as they are.

Textual then passes each line through its styles cache (border, padding, outline, tint,
opacity), which for a widget with none of them leaves the line as it was, at some 40 µs a line
(the bars: 13 lines at every keystroke). A plain ``Rows`` widget hands its lines to the
compositor itself, through the app's line filters as Textual would; with any of those styles it
takes Textual's way. ``tests/tui/test_rows.py`` checks that both give the same lines.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

Piece = tuple[str, "str | Style"]  # text and a Rich style, or its string ("": the widget's own)
Row = list[Piece]


def as_style(style: str | Style) -> Style:
    """A piece's style as a Rich Style (a string is parsed; "" is no style of its own)."""
    return style if isinstance(style, Style) else Style.parse(style or "none")


class Rows(Widget):
    """Subclasses say what to draw in ``rows(width, height)`` and call ``changed()`` (or let a
    reactive watcher call it) when that would differ."""

    _strips: list[Strip] | None = None
    _built_for: tuple = ()
    _base: Style | None = None  # the widget's own style (worked out from its ancestors: slow)

    def rows(self, width: int, height: int) -> list[Row]:
        raise NotImplementedError

    def changed(self) -> None:
        """What ``rows`` returns has changed: build the strips again on the next paint."""
        self._strips = None
        self.refresh()

    def relabel(self) -> None:
        """A new language: the rows are built again (their words are drawn into the strips)."""
        self.changed()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # a new theme, focus, hover...: the style is worked out again, and the rows drawn
        # again (a subclass may draw in its component classes' colours, not only its own)
        self._base = None
        self._strips = None

    def strips(self) -> list[Strip]:
        """The strips for the widget's size and style, built if anything changed."""
        width, height = self.size
        if self._base is None:
            self._base = self.rich_style
        base = self._base
        key = (width, height, base)
        if self._strips is None or self._built_for != key:
            styles: dict[str | Style, Style] = {"": base}
            out = []
            for row in self.rows(width, height)[:height]:
                segments = []
                for text, style in row:
                    if style not in styles:
                        styles[style] = base + as_style(style)
                    segments.append(Segment(text, styles[style]))
                out.append(Strip(segments).adjust_cell_length(width, base))
            self._strips, self._built_for = out, key
        return self._strips

    def text(self) -> str:
        """What is drawn, as plain text, one line per row."""
        return "\n".join(strip.text.rstrip() for strip in self.strips())

    def render_line(self, y: int) -> Strip:
        strips = self.strips()
        return strips[y] if y < len(strips) else Strip.blank(self.size.width, self._base)

    def render_lines(self, crop: Region) -> list[Strip]:
        if not plain_styles(self):  # looked at each time: an inline style may have changed
            return super().render_lines(crop)
        strips = self.strips()
        width = self.size.width
        filters = self.app.get_line_filters()
        background = self.background_colors[1] if filters else None
        out = []
        for y in crop.line_range:
            strip = strips[y] if y < len(strips) else Strip.blank(width, self._base)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            out.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            out = [strip.crop(x1, x2) for strip in out]
        return out


def plain_styles(widget: Widget) -> bool:
    """Whether Textual's styles cache would hand ``widget``'s content lines on unchanged: no
    border, padding, outline, title, tint, opacity (its ancestors' too), text opacity or
    hatch."""
    styles = widget.styles
    return not (
        any(styles.padding)
        or any(edge for edge, _color in styles.border)
        or any(edge for edge, _color in styles.outline)
        or widget.border_title
        or widget.border_subtitle
        or styles.tint.a
        or widget.opacity != 1.0
        or styles.text_opacity != 1.0
        or (styles.has_rule("hatch") and styles.hatch != "none")
    )
