"""Show the math (LESSONS L1) for the last character: its embedding vector, the hidden
activation caught by a forward hook, and the output layer's scores worked by hand as x·Wᵀ + b
beside the layer's own, with the largest difference between them."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.i18n import _
from tui.format import visible_char


def _vec(values: list[float], dim: int, width: int) -> str:
    """As many leading values as fit in ``width`` cells, with … when some are left out."""
    small = values and max(abs(v) for v in values) < 0.1
    cells = [f"{v:+.3f}" if small else f"{v:+.2f}" for v in values]
    per = len(cells[0]) + 1 if cells else 1
    n = max(1, min(len(cells), (width - 6) // per))
    return f"[{' '.join(cells[:n])}{' …' if dim > n else ''}]"


class MathView(Widget):
    DEFAULT_CSS = "MathView { height: 1fr; }"

    math: reactive[dict | None] = reactive(None, always_update=True)

    def render(self) -> Text:
        m = self.math
        if not m:
            hint = _("show the math: type some text first")
            return Text.from_markup(f"[dim]{hint}[/dim]")
        emb, hid, out = m["embedding"], m["hidden"], m["output"]
        ch = visible_char(m["char"])
        width = max(20, self.size.width)
        text = Text()
        text.append(
            _("last char '{char}' → id {id}").format(char=ch, id=m["id"]) + "\n", style="bold"
        )
        dims = _("{dim} dims").format(dim=emb["dim"])
        text.append(f"① {emb['layer']}.weight[{m['id']}] · {dims}\n", style="cyan")
        text.append(f"  {_vec(emb['values'], emb['dim'], width)}\n")
        share = hid.get("zero_share")
        zero = " · " + _("{percent:.0f}% zero").format(percent=100 * share) if share else ""
        hook = _("hook on {layer}: x").format(layer=hid["layer"])
        text.append(f"② {hook}{zero}\n", style="cyan")
        text.append(f"  {_vec(hid['values'], hid['dim'], width)}\n")
        shape = "×".join(str(n) for n in out["weight_shape"])
        b = " + b" if out["has_bias"] else ""
        tied = f" = {out['weight_name']}" if out.get("tied") else ""
        text.append(f"③ {out['layer']}: x·Wᵀ{b}, W{tied} {shape}\n", style="cyan")
        ok = out["allclose"]
        diff = _("max|hand − layer| {diff:.0e}").format(diff=out["max_abs_diff"])
        text.append(f"  {diff} ", style="bold")
        text.append("allclose ✓" if ok else "allclose ✗", style="bold green" if ok else "bold red")
        rows = out["rows"][: max(0, self.size.height - 9)]
        if rows:
            # the headings end where their columns' numbers end (at cells 17 and 27)
            head = "  " + _("char").ljust(4)
            head += _("by hand").rjust(17 - cell_len(head))
            head += _("layer").rjust(27 - cell_len(head))
            text.append("\n" + head, style="dim")
        for row in rows:
            text.append(
                f"\n   {visible_char(row['char']):<3} {row['by_hand']:+9.4f} {row['layer']:+9.4f}"
            )
        return text
