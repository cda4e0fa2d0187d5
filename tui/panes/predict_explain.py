"""The Predict pane's explain view (key e): the request's arguments (the layer and head chosen,
every head with v, the character at the cursor) and the reply drawn by ExplainView."""

from __future__ import annotations

from core.contract.explain import ExplainResult
from core.i18n import _
from tui.widgets.explain_view import ExplainView


class Explaining:
    """Mixed into PredictPane: it has ``side``, ``input_box``, ``is_lm`` and ``schedule``."""

    def _explain_args(self) -> dict:
        layer, head = self.explain_at
        view = self.query_one(ExplainView)
        self._asked_position = self._cursor_position()
        return {
            "layer": layer,
            "head": None if view.grid else head,
            "position": self._asked_position,
            "window": view.window,
        }

    def on_explain_view_cut(self) -> None:
        if self.side == "explain" and self.is_lm:
            self.schedule(0)

    def _show_explanation(self, reply: dict) -> None:
        view = self.query_one(ExplainView)
        view.data = ExplainResult.from_dict(reply)
        view.focus_position = view.data.position  # the engine's place for the character asked

    def _move_explain(self, which: int, step: int) -> None:
        """The explain view's layer (``which`` 0) or head (1), ``step`` on, wrapping."""
        data = self.query_one(ExplainView).data
        sizes = (data.n_layer, data.n_head) if data else (0, 0)
        if self.side != "explain" or not sizes[which]:
            self.app.notify(_("press e for the explain view of a gpt model first"), timeout=2)
            return
        self.explain_at[which] = (self.explain_at[which] + step) % sizes[which]
        self.schedule(0)

    def action_head(self, step: int) -> None:
        self._move_explain(1, step)

    def action_heads_grid(self) -> None:
        view = self.query_one(ExplainView)
        view.grid = not view.grid
        if self.side == "explain":
            self.schedule(0)

    def _cursor_position(self) -> int | None:
        """The index in the text of the character under the box's cursor (the one before it;
        the first at the very start), the last one at the end even when it is not fed (an
        unknown character there gets its note, not the last known one's neighbours); None
        for an empty text. Right also while the box is being edited: a key's request goes out
        after the box changed its text and before it moved its cursor."""
        box = self.input_box
        if not box.value:
            return None
        return max(0, len(box.value) - box.chars_after_cursor - 1)

    def _cursor_moved(self) -> None:
        """A cursor that moved to another character asks again; one moved by an edit does
        not (the edit's own request covers it)."""
        if self.input_box.editing:
            return
        moved = self._cursor_position() != getattr(self, "_asked_position", None)
        if self.side == "explain" and self.is_lm and moved:
            self.schedule(0)
