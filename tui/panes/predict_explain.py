"""The Predict pane's explain view (key e): the request's arguments (the layer and head chosen,
every head with v, the character at the cursor) and the reply drawn by ExplainView."""

from __future__ import annotations

from core.contract.explain import ExplainResult
from tui.widgets.explain_view import ExplainView


class Explaining:
    """Mixed into PredictPane: it has ``side``, ``input_box``, ``is_lm`` and ``schedule``."""

    def _explain_args(self) -> dict:
        layer, head = self.explain_at
        grid = self.query_one(ExplainView).grid
        self._asked_position = self._cursor_position()
        return {"layer": layer, "head": None if grid else head, "position": self._asked_position}

    def _show_explanation(self, reply: dict) -> None:
        view = self.query_one(ExplainView)
        view.data = ExplainResult.from_dict(reply)
        view.focus_position = self._cursor_position(len(view.data.chars))

    def _move_explain(self, which: int, step: int) -> None:
        """The explain view's layer (``which`` 0) or head (1), ``step`` on, wrapping."""
        data = self.query_one(ExplainView).data
        sizes = (data.n_layer, data.n_head) if data else (0, 0)
        if self.side != "explain" or not sizes[which]:
            self.app.notify("press e for the explain view of a gpt model first", timeout=2)
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

    def _cursor_position(self, fed: int | None = None) -> int | None:
        """The fed character under the text box's cursor (the one before it), counted from
        the start of what was fed; None at the end of the text (the engine's default, the
        last)."""
        box = self.input_box
        after = len(box.value) - box.cursor_position
        if after <= 0:
            return None if fed is None else fed - 1
        last = (fed if fed is not None else len(box.value)) - 1
        return max(0, last - after)

    def _cursor_moved(self) -> None:
        """A cursor that moved to another character asks again (typing at the end of the text
        leaves it on the last one: the key's own request covers it)."""
        moved = self._cursor_position() != getattr(self, "_asked_position", None)
        if self.side == "explain" and self.is_lm and moved:
            self.schedule(0)
