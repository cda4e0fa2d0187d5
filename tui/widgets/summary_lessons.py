"""Text of the Summary pane's views built from engine replies: a weight's statistics, the
Embedding-vs-Linear lesson (LESSONS.md L3) and the X·Wᵀ + b lesson (LESSONS.md L1). Pure
functions from reply dicts to Rich Text, so the pane only decides what to show when."""

from __future__ import annotations

from rich.text import Text

from core.fmt import fmt_bytes, fmt_count
from tui.format import fmt_num
from tui.widgets.summary_table import fmt_shape


def _vec(values: list[float], n: int = 4) -> str:
    return "[" + " ".join(f"{v:+.3f}" for v in values[:n]) + " …]"


def _check(ok: bool) -> tuple[str, str]:
    return ("allclose ✓", "bold green") if ok else ("allclose ✗", "bold red")


def weight_text(w: dict) -> Text:
    """Statistics of one weight tensor beside its initialisation's theory."""
    st, init = w["stats"], w["init"]
    t = Text()
    t.append(w["name"], style="bold green")
    t.append(f"  {fmt_shape(w['shape'])} {w['dtype']}\n")
    if w["tied_to"]:
        t.append(f"tied: same tensor as {', '.join(w['tied_to'])}\n", style="yellow")
    if not w["trainable"]:
        t.append("frozen (requires_grad=False)\n", style="yellow")
    t.append(f"init: {init['label']}\n", style="cyan")
    t.append("          measured   theory\n", style="dim")
    theory_std = init.get("std")
    t.append(f"mean   {st['mean']:+10.4f}  {fmt_num(init.get('mean'), 4):>8}\n")
    t.append(f"std    {st['std']:10.4f}  {fmt_num(theory_std, 4):>8}\n")
    if init.get("kind") == "uniform":
        t.append(f"bounds ±{max(abs(st['min']), abs(st['max'])):9.4f}  "
                 f"±{init['bound']:.4f}\n")
    t.append(f"min    {st['min']:+10.4f}   max {st['max']:+.4f}\n")
    t.append(f"|w|<{st['near_zero_below']:g} {100 * st['near_zero']:6.2f}%   "
             f"‖w‖ {fmt_num(st['norm'], 4)}\n")
    g = w.get("grad")
    if g:
        t.append(f"grad   mean {fmt_num(g['mean'])} std {fmt_num(g['std'])} "
                 f"‖g‖ {fmt_num(g['norm'])}\n", style="magenta")
    else:
        t.append("grad   none yet (train a step)\n", style="dim")
    m = w.get("moved")
    if m:
        rel = "--" if m["relative"] is None else f"{100 * m['relative']:.2f}%"
        t.append(f"moved since step {m['since_step']}: ‖Δw‖ {fmt_num(m['norm'], 4)} "
                 f"({rel}), max |Δ| {fmt_num(m['max_abs'], 3)}\n")
    t.append(f"at step {w['step']}", style="dim")
    return t


def embedding_linear_text(r: dict) -> Text:
    """The L3 lesson: one live nn.Embedding(V, d) and one nn.Linear(d, V)."""
    V, d, i = r["V"], r["d"], r["index"]
    c, lk, ty = r["constructors"], r["lookup"], r["tying"]
    t = Text()
    t.append(f"e = {c['embedding']}\nl = {c['linear']}\n", style="bold")
    t.append(f"both weights are {fmt_shape(r['shapes']['embedding'])}: the arguments come in "
             "opposite order\n")
    t.append("only Embedding: ", style="cyan")
    t.append(", ".join(f"{k}={v}" for k, v in r["only_embedding"].items()
                       if k not in ("num_embeddings", "embedding_dim")) + "\n")
    t.append("only Linear: ", style="cyan")
    t.append(", ".join(f"{k}={v}" for k, v in r["only_linear"].items()) + "\n")
    t.append(f"\nrow {i}, three ways:\n", style="bold")
    t.append(f" e(tensor([{i}])) {_vec(lk['module'], 3)}\n")
    t.append(f" e.weight[{i}]    {_vec(lk['index'], 3)}\n")
    t.append(f" one_hot({i}) @ W {_vec(lk['one_hot'], 3)}\n")
    label, style = _check(lk["allclose"])
    t.append(f" {label}", style=style)
    t.append(f"  max diff {lk['max_abs_diff']:.1e};  cost {fmt_count(lk['cost_lookup'])} "
             f"values read vs {fmt_count(lk['cost_one_hot'])} multiply-adds\n")
    t.append(f" l({i}) → {lk['linear_call_int']['type']}: {lk['linear_call_int']['message']}\n",
             style="red")
    t.append(f" l(one_hot) → {lk['linear_call_one_hot']['type']}: the one-hot has {V} "
             f"values, l takes {d}\n", style="red")
    t.append("\ninit ", style="bold")
    for key, name in (("embedding_init", "Embedding"), ("linear_init", "Linear")):
        th, st = r[key]["theory"], r[key]["stats"]
        t.append(f"\n {name}: {th['label']}\n", style="cyan")
        t.append(f"   std theory {th['std']:.4f}  measured {st['std']:.4f}; "
                 f"mean {st['mean']:+.4f}")
    t.append("\n press i: " + ("back to the default init" if r["reinit"] else
                              "re-initialise l with nn.init.normal_(w, 0, 1)"), style="dim")
    t.append("\n\ntying ", style="bold")
    t.append("l.weight = e.weight  (press y)\n", style="dim")
    t.append(f" parameters: {fmt_count(ty['before'])} untied → {fmt_count(ty['after'])} tied "
             f"(saves {fmt_bytes(ty['saved_bytes'])})\n")
    if r["tie"]:
        t.append(f" tied: l.weight is e.weight; l.weight[{i}] == e({i}): "
                 f"{'yes' if ty['row_equals_lookup'] else 'no'}; counting by name would "
                 f"still say {fmt_count(ty['naive_after'])}\n", style="green")
    t.append(f" one V×d float32 matrix: {fmt_bytes(ty['matrix_bytes'])}; "
             f"GPT-2's 50,257×768: {fmt_bytes(ty['gpt2_matrix_bytes'])}\n", style="dim")
    return t


def forward_text(r: dict) -> Text:
    """The L1 lesson: X · Wᵀ + b by hand beside the layer's own output."""
    s = r["shapes"]
    t = Text()
    t.append(f"{r['layer']}", style="bold green")
    t.append(f"  nn.Linear({r['in_features']}, {r['out_features']}"
             f"{'' if r['has_bias'] else ', bias=False'})   ([ / ] other Linear, n new X)\n")
    t.append(f"X {fmt_shape(s['X'])} random (seed {r['seed']}) · Wᵀ {fmt_shape(s['W.T'])}")
    t.append(f" + b {fmt_shape(s['b'])}" if r["has_bias"] else " (no bias)")
    t.append(f" = out {fmt_shape(s['out'])}\n")
    t.append(f"W is {fmt_shape(s['W'])}: one row per output neuron\n\n", style="dim")
    t.append(f"X[0]           {_vec(r['x'])}\n")
    t.append(f"X[0]·Wᵀ + b    {_vec(r['by_hand'])}  by hand\n", style="cyan")
    t.append(f"layer(X)[0]    {_vec(r['layer_out'])}  the layer\n", style="cyan")
    label, style = _check(r["allclose"])
    t.append(f"max |by hand − layer| = {r['max_abs_diff']:.2e}  ", style="bold")
    t.append(label + "\n\n", style=style)
    t.append("neuron 0 = X · W[0] + b[0], one value per row of X:\n", style="dim")
    t.append(f"by row of W    {_vec(r['neuron0_by_row'])}\n")
    t.append(f"layer(X)[:, 0] {_vec(r['neuron0_from_layer'])}\n")
    t.append(f"\nLinear layers: {', '.join(r['layers'])}", style="dim")
    return t
