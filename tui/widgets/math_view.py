"""Show the math (LESSONS L1) for the last character: its embedding vector, the hidden
activation caught by a forward hook, and the output layer's scores worked by hand as x·Wᵀ + b
beside the layer's own, with the largest difference between them."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.format import visible_char


def _vec(values: list[float], dim: int) -> str:
    shown = " ".join(f"{v:+.2f}" for v in values)
    return f"[{shown}{' …' if dim > len(values) else ''}]"


class MathView(Widget):
    DEFAULT_CSS = "MathView { height: 1fr; }"

    math: reactive[dict | None] = reactive(None, always_update=True)

    def render(self) -> Text:
        m = self.math
        if not m:
            return Text.from_markup("[dim]show the math: type some text first[/dim]")
        emb, hid, out = m["embedding"], m["hidden"], m["output"]
        ch = visible_char(m["char"])
        text = Text()
        text.append(f"last char '{ch}' → id {m['id']}\n", style="bold")
        text.append(f"① {emb['layer']}.weight[{m['id']}]  ({emb['dim']} dims)\n", style="cyan")
        text.append(f"  {_vec(emb['values'], emb['dim'])}\n")
        zero = f", {100 * hid['zero_share']:.0f}% zero" if hid.get("zero_share") else ""
        text.append(f"② hidden x = output of {hid['layer']} (hook; {hid['dim']} dims{zero})\n",
                    style="cyan")
        text.append(f"  {_vec(hid['values'], hid['dim'])}\n")
        shape = "×".join(str(n) for n in out["weight_shape"])
        w = "W" + (f" = {out['weight_name']} (tied)" if out.get("tied") else "")
        b = " + b" if out["has_bias"] else " (no bias)"
        text.append(f"③ {out['layer']}: scores = x·Wᵀ{b};  {w} [{shape}]\n", style="cyan")
        text.append("  char   by hand     layer\n", style="dim")
        for row in out["rows"]:
            text.append(f"   {visible_char(row['char']):<3} {row['by_hand']:+9.4f} "
                        f"{row['layer']:+9.4f}\n")
        ok = out["allclose"]
        text.append(f"  max |by hand − layer| = {out['max_abs_diff']:.2e}  ",
                    style="bold")
        text.append("allclose ✓" if ok else "allclose ✗", style="bold green" if ok else
                    "bold red")
        return text
