"""The result as a plain-text table: figure, measured (median [min–max]), target."""

from __future__ import annotations

import unicodedata

from core.bench.plan import FULL_QUALITY_STEPS
from core.contract.settings import GPT, MINI
from core.fmt import fmt_rate
from core.i18n import N_, _

# the count of a latency series, by what was timed (``_keys``)
VISITS, CELLS, KEYS = N_("{n} visits"), N_("{n} cells"), N_("{n} keys")


def _verdict(met: bool) -> str:
    """A figure against its target, as the table says it."""
    return _("ok") if met else _("MISSED")


def _ok(figure: dict) -> str:
    return _verdict(bool(figure.get("met")))


def _link(f: dict) -> str:
    """One client's share of the link: bytes/s = reports/s × bytes a report, and the losses in
    a report (each a mean of up to ``stride`` steps' where a budget thinned them)."""
    if f.get("stride", 1) > 1:
        losses = _("{losses:g} losses, means of ≤ {stride}").format(
            losses=f["losses_per_report"], stride=f["stride"]
        )
    else:
        losses = _("{losses:g} losses").format(losses=f["losses_per_report"])
    return (
        f"{f['bytes_per_s']:,.0f} B/s = {f['reports_per_s']:.1f}/s × "
        f"{f['bytes_per_line']:,} B ({losses})"
    )


def scaling_rows(key: str, f: dict, med) -> list[tuple[str, str, str]]:
    """A scaling figure (``dist_probes``): the ratio against its target, then the rates. The
    CPU one is the job's global tokens/s over one rank's; the CUDA one is per GPU."""
    if f.get("measured") is False:
        return [(key, f["reason"], "")]
    world, threads = f["world_size"], f["threads"]
    if key == "scaling_cpu_2x1":
        label = _("{figure} ({world} ranks ÷ 1, global)").format(figure=key, world=world)
        rates = f"{fmt_rate(f['job_tokens_per_s'])} / {fmt_rate(f['one_tokens_per_s'])}"
        what = "  " + _("tokens/s {world} ranks / 1 rank, {threads} thread each").format(
            world=world, threads=threads
        )
    else:
        label = _("{figure} ({world} GPUs, per GPU ÷ 1)").format(figure=key, world=world)
        rates = f"{fmt_rate(f['per_rank_tokens_per_s'])} / {fmt_rate(f['one_tokens_per_s'])}"
        what = "  " + _("tokens/s per GPU / 1 GPU ({gpu})").format(gpu=f.get("gpu", f["device"]))
    steps = ""
    if f.get("job_step_ms") is not None:
        steps = f"  ({f['job_step_ms']:.0f} / {f['one_step_ms']:.0f} ms/step)"
    return [
        (label, med(f), f"≥ {f['target']} {_ok(f)}"),
        (what, rates + steps, ""),
    ]


def _num(v: float | None) -> str:
    return "--" if v is None else f"{v:.0f}"


def _keys(f: dict, what: str) -> str:
    """p50 / p95 of a latency series (``feel_probes.latency``), with its count (``what``: one
    of :data:`VISITS`, :data:`CELLS`, :data:`KEYS`) and time-outs."""
    out = f"{_num(f['p50'])} / {_num(f['p95'])} ms (" + _(what).format(n=f["n"])
    if f["timeouts"]:
        out += ", " + _("{count} timed out").format(count=f["timeouts"])
    return out + ")"


def _within(value: float | None, target: float | None, timeouts: int = 0) -> str:
    return _verdict(value is not None and target is not None and value <= target and not timeouts)


def feel_rows(r: dict, err) -> list[tuple[str, str, str]]:
    """The feel figures (``feel_probes``): key to screen in the app, p50 / p95 in ms."""
    rows: list[tuple[str, str, str]] = []
    if not err("pane_switch_ms"):
        f = r["pane_switch_ms"]
        first = " / ".join(f"{pane} {_num(ms)}" for pane, ms in f["first"].items())
        target = f"≤ {f['target']:.0f} {_ok(f)}"
        rows.append((_("pane_switch_ms first visit"), first + " ms", target))
        later = f["later"]
        rows.append(("  " + _("later visits p50 / p95"), _keys(later, VISITS), ""))
        if f.get("summary_table_ms") is not None:
            table_ms = f"{f['summary_table_ms']:.0f} ms"
            rows.append(("  " + _("Summary's table, first visit"), table_ms, ""))
    if not err("cell_to_paint_ms"):
        f = r["cell_to_paint_ms"]
        rows.append(
            ("cell_to_paint_ms p50 / p95", _keys(f, CELLS), f"p95 ≤ {f['target']:.0f} {_ok(f)}")
        )
    if not err("keystroke_to_paint_ms"):
        f = r["keystroke_to_paint_ms"]
        idle, training, echo = f["idle"], f["training"], f["echo"]
        rows.append(
            (
                _("keystroke_to_paint_ms idle p50 / p95"),
                _keys(idle, KEYS),
                f"p95 ≤ {f['target']:.0f} {_within(idle['p95'], f['target'], idle['timeouts'])}",
            )
        )
        target = f["training_target_ms"]
        rows.append(
            (
                _("keystroke_to_paint_ms training"),
                _keys(training, KEYS) + "; " + _("a step {ms} ms").format(ms=_num(f["step_ms"])),
                _("p95 ≤ {target} (a step + {margin:.0f})").format(
                    target=_num(target), margin=f["target"]
                )
                + " "
                + _within(training["p95"], target, training["timeouts"]),
            )
        )
        rows.append(("  " + _("the box's echo (waits for its bars)"), _keys(echo, KEYS), ""))
    if not err("explain_to_paint_ms"):
        f = r["explain_to_paint_ms"]
        rows.append(
            (
                _("explain_to_paint_ms idle p50 / p95"),
                _keys(f, KEYS),
                f"p95 ≤ {f['target']:.0f} {_ok(f)}",
            )
        )
        rows.append(("  " + _("e to the explain view drawn"), f"{_num(f.get('open_ms'))} ms", ""))
    if not err("start_to_progress_ms"):
        f = r["start_to_progress_ms"]
        rows.append(
            (
                "start_to_progress_ms",
                _("{value} ms (a step: {step} ms)").format(
                    value=_num(f["value"]), step=_num(f.get("step_ms"))
                ),
                f"≤ {f['target']:.0f} {_ok(f)}",
            )
        )
    return rows


def table(r: dict) -> str:
    """The result as a plain-text table: figure, measured (median [min–max]), target."""
    rows: list[tuple[str, str, str]] = []

    def err(key: str) -> bool:
        """Whether ``key`` has no rows of its own: failed (one row says why), or not measured
        (``--only``)."""
        if key not in r:
            return True
        if "error" in r[key]:
            rows.append((key, _("failed: {error}").format(error=r[key]["error"][:200]), ""))
            return True
        return False

    def med(f: dict, digits: int = 2, unit: str = "") -> str:
        return f"{f['median']:.{digits}f}{unit} [{f['min']:.{digits}f}–{f['max']:.{digits}f}]"

    if not err("train_overhead"):
        f = r["train_overhead"]
        rows.append((_("train_overhead (engine ÷ bare)"), med(f), f"≥ {f['target']} {_ok(f)}"))
        rows.append(
            (
                "  " + _("tokens/s engine / bare"),
                f"{fmt_rate(f['engine_tokens_per_s'])} / "
                f"{fmt_rate(f['bare_tokens_per_s'])}  ({f['step_ms']:.0f} ms/step)",
                "",
            )
        )
    if not err("speedup_vs_eager"):
        f = r["speedup_vs_eager"]
        how = f["precision"] + (", " + _("compiled") if f["compile"] else "")
        rows.append((f"speedup_vs_eager ({how} ÷ fp32)", med(f), f"≥ {f['target']} {_ok(f)}"))
    if not err("train_in_app"):
        f = r["train_in_app"]
        rows.append((_("train_in_app (app ÷ bare)"), med(f), f"≥ {f['target']} {_ok(f)}"))
        rows.append(
            (
                "  " + _("tokens/s in app / bare"),
                f"{fmt_rate(f['app_tokens_per_s'])} / {fmt_rate(f['bare_tokens_per_s'])}  "
                + _("(the UI used {cores:.2f} of a core)").format(cores=f.get("ui_cpu_cores", 0)),
                "",
            )
        )
    for key in ("ui_lag_ms_p99", "ui_lag_ms_p99_200x50"):
        if key in r and not err(key):
            f = r[key]
            rows.append(
                (
                    f"ui_lag_ms p50 / p99 / max {f.get('size', '')}".rstrip(),
                    f"{f['p50']:.1f} / {f['value']:.1f} / {f['max']:.1f}  "
                    + _("({samples} samples)").format(samples=f["samples"]),
                    f"p99 ≤ {f['target']:.0f}, max ≤ {f.get('max_target', 35):.0f} {_ok(f)}",
                )
            )
    if not err("first_paint_s"):
        f = r["first_paint_s"]
        rows.append(("first_paint_s", med(f), f"≤ {f['target']} {_ok(f)}"))
        rows.append(("engine_ready_s", med(r["engine_ready_s"]), ""))
        rows.append(
            ("  python -c 'import torch'", med(r["import_torch_s"], unit=" s"), _("reference"))
        )
    if not err("attach_s"):
        f = r["attach_s"]
        rows.append(
            (
                _("attach_s ({steps:,}-step run)").format(steps=f["steps"]),
                med(f, unit=" s"),
                f"≤ {f['target']} {_ok(f)}",
            )
        )
        rows.append(
            (
                "  " + _("chart points / first paint"),
                f"{f['chart_points']} / {f['first_paint_s']:.2f} s "
                + _("(engine ready {seconds:.2f} s)").format(seconds=f["engine_ready_s"]),
                "",
            )
        )
    if not err("link_bytes_per_s"):
        f = r["link_bytes_per_s"]
        rows.append(
            (
                _("link_bytes_per_s (gpt, no budget)"),
                _link(f["gpt"]),
                f"≤ {f['target']:,} {_ok(f)}",
            )
        )
        for preset in (GPT, MINI):
            if preset != GPT:
                label = "  " + _("{preset}, no budget").format(preset=preset)
                rows.append((label, _link(f[preset]), ""))
            for key, budget in (("budgeted", f["budget"]), ("slow", f.get("slow_budget"))):
                if f"{preset}_{key}" in f:
                    label = "  " + _("{preset}, budget {budget:,} B/s").format(
                        preset=preset, budget=budget
                    )
                    rows.append((label, _link(f[f"{preset}_{key}"]), ""))
    if not err("predict_ms"):
        f = r["predict_ms"]
        rows.append(
            (
                _("predict_ms idle p50 / p95"),
                f"{f['idle']['p50']:.1f} / {f['idle']['p95']:.1f}",
                f"p95 ≤ {f['target_idle_p95']:.0f}",
            )
        )
        rows.append(
            (
                _("predict_ms training p50 / p95"),
                f"{f['training']['p50']:.1f} / {f['training']['p95']:.1f} = "
                + _("{steps:.2f} steps").format(steps=f["training_p95_steps"]),
                _("p95 ≤ {target:.0f} steps").format(target=f["target_training_p95_steps"])
                + " "
                + _ok(f),
            )
        )
    if not err("rss_mb"):
        f = r["rss_mb"]
        idle = f"{f['ui_idle']} / {f['engine_idle']}"
        rows.append((_("rss_mb UI / engine, idle"), idle, ""))
        rows.append(
            (
                _("rss_mb UI / engine, {steps} steps").format(steps=f["steps"]),
                f"{f['ui_before']} → {f['ui_after']} / {f['engine_before']} → {f['engine_after']}",
                _("bounded"),
            )
        )
    rows += feel_rows(r, err)
    if not err("quality"):
        f = r["quality"]
        label = (
            _("quality (full run)")
            if f["full"]
            else _("quality ({steps} of {full} steps)").format(
                steps=f["steps"], full=FULL_QUALITY_STEPS
            )
        )
        val = "--" if f["val_loss"] is None else f"{f['val_loss']:.4f}"
        extra = (
            ""
            if f["full"]
            else "; "
            + _("{steps} steps ≈ {seconds:.0f} s").format(
                steps=FULL_QUALITY_STEPS, seconds=f["wall_s_2000_estimate"]
            )
        )
        rows.append(
            (
                label,
                f"{f['wall_s']:.1f} s, {fmt_rate(f['tokens_per_s'])} tok/s, "
                + _("val {loss}").format(loss=val)
                + extra,
                "",
            )
        )
        plain = f.get("fp32_eager") or {}
        if f.get("val_loss_delta") is not None:
            rows.append(
                (
                    "  " + _("the same in fp32 eager"),
                    f"{plain['wall_s']:.1f} s, "
                    + _("val {loss:.4f} (defaults {delta:+.4f})").format(
                        loss=plain["val_loss"], delta=f["val_loss_delta"]
                    ),
                    f"≤ +{f['target_delta']} {_ok(f)}",
                )
            )
    if not err("cuda"):
        f = r["cuda"]
        if not f["measured"]:
            rows.append(("cuda", f["reason"], ""))
        else:
            mfu = "--" if f["mfu"] is None else f"{100 * f['mfu']:.1f}%"
            rows.append(
                (
                    "cuda tokens/s, MFU",
                    _("{rate}, {mfu} of {tflops} TFLOPS ({device})").format(
                        rate=fmt_rate(f["tokens_per_s"]),
                        mfu=mfu,
                        tflops=f["bf16_peak_tflops"],
                        device=f["device"],
                    ),
                    "",
                )
            )
            rows.append((_("cuda overhead (engine ÷ bare)"), med(f["overhead"]), ""))
    if not err("scaling_cpu_2x1"):
        rows += scaling_rows("scaling_cpu_2x1", r["scaling_cpu_2x1"], med)
    if not err("scaling_cuda_per_gpu"):
        rows += scaling_rows("scaling_cuda_per_gpu", r["scaling_cuda_per_gpu"], med)
    m = r["machine"]
    s = r["settings"]
    head = (
        _("torchdeck bench — {cores} CPU cores, torch {torch}, {threads} threads; gpt").format(
            cores=m["cpu_cores"], torch=m["torch"], threads=m["threads"]
        )
        + (" " + _("(tiny: --quick)") if r["quick"] else "")
        + "; "
        + _(
            "A/B rounds: {rounds} × {window:g} s headless, {app_rounds} × {app_window:g} s "
            "in the app; median [min–max]"
        ).format(
            rounds=s.get("overhead_rounds", "-"),
            window=s.get("overhead_window_s", 0),
            app_rounds=s["rounds"],
            app_window=s["window_s"],
        )
    )
    load = m.get("load_avg_1min") or {}
    if load.get("start") is not None:
        head += "\n" + _(
            "load average (1 min) {start} at the start, {end} at the end: other work on the "
            "machine slows both sides of each ratio"
        ).format(start=load["start"], end=load.get("end"))
    return "\n".join([head, ""] + aligned(rows))


def cell_len(text: str) -> int:
    """Terminal cells ``text`` takes: 2 a wide character, 0 a combining mark, else 1 (as
    ``rich.cells.cell_len`` counts them, without loading rich: core loads no UI library)."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def aligned(rows: list[tuple[str, str, str]]) -> list[str]:
    """The rows as lines, the first two columns padded to their widest cell (in terminal cells,
    which a translation's accents do not widen)."""
    w0 = max((cell_len(a) for a, _b, _c in rows), default=0)
    w1 = max((cell_len(b) for _a, b, _c in rows), default=0)
    return [
        f"{a}{' ' * (w0 - cell_len(a))}  {b}{' ' * (w1 - cell_len(b))}  {c}".rstrip()
        for a, b, c in rows
    ]
