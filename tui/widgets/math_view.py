"""Show the math (LESSONS L1) for the last character: its embedding vector, the hidden
activation caught by a forward hook, and the output layer's scores worked by hand as x·Wᵀ + b
beside the layer's own, with the largest difference between them."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

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
            return Text.from_markup("[dim]show the math: type some text first[/dim]")
        emb, hid, out = m["embedding"], m["hidden"], m["output"]
        ch = visible_char(m["char"])
        width = max(20, self.size.width)
        text = Text()
        text.append(f"last char '{ch}' → id {m['id']}\n", style="bold")
        text.append(f"① {emb['layer']}.weight[{m['id']}] · {emb['dim']} dims\n", style="cyan")
        text.append(f"  {_vec(emb['values'], emb['dim'], width)}\n")
        zero = f" · {100 * hid['zero_share']:.0f}% zero" if hid.get("zero_share") else ""
        text.append(f"② hook on {hid['layer']}: x{zero}\n", style="cyan")
        text.append(f"  {_vec(hid['values'], hid['dim'], width)}\n")
        shape = "×".join(str(n) for n in out["weight_shape"])
        b = " + b" if out["has_bias"] else ""
        tied = f" = {out['weight_name']}" if out.get("tied") else ""
        text.append(f"③ {out['layer']}: x·Wᵀ{b}, W{tied} {shape}\n", style="cyan")
        ok = out["allclose"]
        text.append(f"  max|hand − layer| {out['max_abs_diff']:.0e} ", style="bold")
        text.append("allclose ✓" if ok else "allclose ✗", style="bold green" if ok else "bold red")
        rows = out["rows"][: max(0, self.size.height - 9)]
        if rows:
            text.append("\n  char    by hand     layer", style="dim")
        for row in rows:
            text.append(
                f"\n   {visible_char(row['char']):<3} {row['by_hand']:+9.4f} {row['layer']:+9.4f}"
            )
        return text
