"""The result as a plain-text table: figure, measured (median [min–max]), target."""

from __future__ import annotations

from core.bench.plan import FULL_QUALITY_STEPS
from core.contract.settings import GPT, MINI
from core.fmt import fmt_rate


def _ok(figure: dict) -> str:
    return "ok" if figure.get("met") else "MISSED"


def _link(f: dict) -> str:
    """One client's share of the link: bytes/s = reports/s × bytes a report, and the losses in
    a report (each a mean of up to ``stride`` steps' where a budget thinned them)."""
    stride = f", means of ≤ {f['stride']}" if f.get("stride", 1) > 1 else ""
    return (
        f"{f['bytes_per_s']:,.0f} B/s = {f['reports_per_s']:.1f}/s × "
        f"{f['bytes_per_line']:,} B ({f['losses_per_report']:g} losses{stride})"
    )


def scaling_rows(key: str, f: dict, med) -> list[tuple[str, str, str]]:
    """A scaling figure (``dist_probes``): the ratio against its target, then the rates. The
    CPU one is the job's global tokens/s over one rank's; the CUDA one is per GPU."""
    if f.get("measured") is False:
        return [(key, f["reason"], "")]
    world, threads = f["world_size"], f["threads"]
    if key == "scaling_cpu_2x1":
        label = f"{key} ({world} ranks ÷ 1, global)"
        rates = f"{fmt_rate(f['job_tokens_per_s'])} / {fmt_rate(f['one_tokens_per_s'])}"
        what = f"  tokens/s {world} ranks / 1 rank, {threads} thread each"
    else:
        label = f"{key} ({world} GPUs, per GPU ÷ 1)"
        rates = f"{fmt_rate(f['per_rank_tokens_per_s'])} / {fmt_rate(f['one_tokens_per_s'])}"
        what = f"  tokens/s per GPU / 1 GPU ({f.get('gpu', f['device'])})"
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
    """p50 / p95 of a latency series (``feel_probes.latency``), with its count and time-outs."""
    out = f"{_num(f['p50'])} / {_num(f['p95'])} ms ({f['n']} {what}"
    return out + (f", {f['timeouts']} timed out)" if f["timeouts"] else ")")


def _within(value: float | None, target: float | None, timeouts: int = 0) -> str:
    ok = value is not None and target is not None and value <= target and not timeouts
    return "ok" if ok else "MISSED"


def feel_rows(r: dict, err) -> list[tuple[str, str, str]]:
    """The feel figures (``feel_probes``): key to screen in the app, p50 / p95 in ms."""
    rows: list[tuple[str, str, str]] = []
    if not err("pane_switch_ms"):
        f = r["pane_switch_ms"]
        first = " / ".join(f"{pane} {_num(ms)}" for pane, ms in f["first"].items())
        rows.append(("pane_switch_ms first visit", first + " ms", f"≤ {f['target']:.0f} {_ok(f)}"))
        later = f["later"]
        rows.append(("  later visits p50 / p95", _keys(later, "visits"), ""))
        if f.get("summary_table_ms") is not None:
            rows.append(("  Summary's table, first visit", f"{f['summary_table_ms']:.0f} ms", ""))
    if not err("cell_to_paint_ms"):
        f = r["cell_to_paint_ms"]
        rows.append(
            ("cell_to_paint_ms p50 / p95", _keys(f, "cells"), f"p95 ≤ {f['target']:.0f} {_ok(f)}")
        )
    if not err("keystroke_to_paint_ms"):
        f = r["keystroke_to_paint_ms"]
        idle, training, echo = f["idle"], f["training"], f["echo"]
        rows.append(
            (
                "keystroke_to_paint_ms idle p50 / p95",
                _keys(idle, "keys"),
                f"p95 ≤ {f['target']:.0f} {_within(idle['p95'], f['target'], idle['timeouts'])}",
            )
        )
        target = f["training_target_ms"]
        rows.append(
            (
                "keystroke_to_paint_ms training",
                _keys(training, "keys") + f"; a step {_num(f['step_ms'])} ms",
                f"p95 ≤ {_num(target)} (a step + {f['target']:.0f}) "
                + _within(training["p95"], target, training["timeouts"]),
            )
        )
        rows.append(("  the box's echo (waits for its bars)", _keys(echo, "keys"), ""))
    if not err("explain_to_paint_ms"):
        f = r["explain_to_paint_ms"]
        rows.append(
            (
                "explain_to_paint_ms idle p50 / p95",
                _keys(f, "keys"),
                f"p95 ≤ {f['target']:.0f} {_ok(f)}",
            )
        )
        rows.append(("  e to the explain view drawn", f"{_num(f.get('open_ms'))} ms", ""))
    if not err("start_to_progress_ms"):
        f = r["start_to_progress_ms"]
        rows.append(
            (
                "start_to_progress_ms",
                f"{_num(f['value'])} ms (a step: {_num(f.get('step_ms'))} ms)",
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
            rows.append((key, "failed: " + r[key]["error"][:200], ""))
            return True
        return False

    def med(f: dict, digits: int = 2, unit: str = "") -> str:
        return f"{f['median']:.{digits}f}{unit} [{f['min']:.{digits}f}–{f['max']:.{digits}f}]"

    if not err("train_overhead"):
        f = r["train_overhead"]
        rows.append(("train_overhead (engine ÷ bare)", med(f), f"≥ {f['target']} {_ok(f)}"))
        rows.append(
            (
                "  tokens/s engine / bare",
                f"{fmt_rate(f['engine_tokens_per_s'])} / "
                f"{fmt_rate(f['bare_tokens_per_s'])}  ({f['step_ms']:.0f} ms/step)",
                "",
            )
        )
    if not err("speedup_vs_eager"):
        f = r["speedup_vs_eager"]
        how = f"{f['precision']}{', compiled' if f['compile'] else ''}"
        rows.append((f"speedup_vs_eager ({how} ÷ fp32)", med(f), f"≥ {f['target']} {_ok(f)}"))
    if not err("train_in_app"):
        f = r["train_in_app"]
        rows.append(("train_in_app (app ÷ bare)", med(f), f"≥ {f['target']} {_ok(f)}"))
        rows.append(
            (
                "  tokens/s in app / bare",
                f"{fmt_rate(f['app_tokens_per_s'])} / "
                f"{fmt_rate(f['bare_tokens_per_s'])}  (the UI used "
                f"{f.get('ui_cpu_cores', 0):.2f} of a core)",
                "",
            )
        )
    for key in ("ui_lag_ms_p99", "ui_lag_ms_p99_200x50"):
        if key in r and not err(key):
            f = r[key]
            rows.append(
                (
                    f"ui_lag_ms p50 / p99 / max {f.get('size', '')}".rstrip(),
                    f"{f['p50']:.1f} / {f['value']:.1f} / {f['max']:.1f}  ({f['samples']} samples)",
                    f"p99 ≤ {f['target']:.0f}, max ≤ {f.get('max_target', 35):.0f} {_ok(f)}",
                )
            )
    if not err("first_paint_s"):
        f = r["first_paint_s"]
        rows.append(("first_paint_s", med(f), f"≤ {f['target']} {_ok(f)}"))
        rows.append(("engine_ready_s", med(r["engine_ready_s"]), ""))
        rows.append(
            ("  python -c 'import torch'", med(r["import_torch_s"], unit=" s"), "reference")
        )
    if not err("attach_s"):
        f = r["attach_s"]
        rows.append(
            (f"attach_s ({f['steps']:,}-step run)", med(f, unit=" s"), f"≤ {f['target']} {_ok(f)}")
        )
        rows.append(
            (
                "  chart points / first paint",
                f"{f['chart_points']} / {f['first_paint_s']:.2f} s "
                f"(engine ready {f['engine_ready_s']:.2f} s)",
                "",
            )
        )
    if not err("link_bytes_per_s"):
        f = r["link_bytes_per_s"]
        rows.append(
            (
                "link_bytes_per_s (gpt, no budget)",
                _link(f["gpt"]),
                f"≤ {f['target']:,} {_ok(f)}",
            )
        )
        for preset in (GPT, MINI):
            if preset != GPT:
                rows.append((f"  {preset}, no budget", _link(f[preset]), ""))
            for key, budget in (("budgeted", f["budget"]), ("slow", f.get("slow_budget"))):
                if f"{preset}_{key}" in f:
                    rows.append(
                        (f"  {preset}, budget {budget:,} B/s", _link(f[f"{preset}_{key}"]), "")
                    )
    if not err("predict_ms"):
        f = r["predict_ms"]
        rows.append(
            (
                "predict_ms idle p50 / p95",
                f"{f['idle']['p50']:.1f} / {f['idle']['p95']:.1f}",
                f"p95 ≤ {f['target_idle_p95']:.0f}",
            )
        )
        rows.append(
            (
                "predict_ms training p50 / p95",
                f"{f['training']['p50']:.1f} / "
                f"{f['training']['p95']:.1f} = {f['training_p95_steps']:.2f} steps",
                f"p95 ≤ {f['target_training_p95_steps']:.0f} steps {_ok(f)}",
            )
        )
    if not err("rss_mb"):
        f = r["rss_mb"]
        rows.append(("rss_mb UI / engine, idle", f"{f['ui_idle']} / {f['engine_idle']}", ""))
        rows.append(
            (
                f"rss_mb UI / engine, {f['steps']} steps",
                f"{f['ui_before']} → {f['ui_after']} / {f['engine_before']} → {f['engine_after']}",
                "bounded",
            )
        )
    rows += feel_rows(r, err)
    if not err("quality"):
        f = r["quality"]
        label = (
            "quality (full run)"
            if f["full"]
            else (f"quality ({f['steps']} of {FULL_QUALITY_STEPS} steps)")
        )
        val = "--" if f["val_loss"] is None else f"{f['val_loss']:.4f}"
        extra = (
            "" if f["full"] else f"; {FULL_QUALITY_STEPS} steps ≈ {f['wall_s_2000_estimate']:.0f} s"
        )
        rows.append(
            (
                label,
                f"{f['wall_s']:.1f} s, {fmt_rate(f['tokens_per_s'])} tok/s, val {val}{extra}",
                "",
            )
        )
        plain = f.get("fp32_eager") or {}
        if f.get("val_loss_delta") is not None:
            rows.append(
                (
                    "  the same in fp32 eager",
                    f"{plain['wall_s']:.1f} s, val {plain['val_loss']:.4f} "
                    f"(defaults {f['val_loss_delta']:+.4f})",
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
                    f"{fmt_rate(f['tokens_per_s'])}, {mfu} of "
                    f"{f['bf16_peak_tflops']} TFLOPS ({f['device']})",
                    "",
                )
            )
            rows.append(("cuda overhead (engine ÷ bare)", med(f["overhead"]), ""))
    if not err("scaling_cpu_2x1"):
        rows += scaling_rows("scaling_cpu_2x1", r["scaling_cpu_2x1"], med)
    if not err("scaling_cuda_per_gpu"):
        rows += scaling_rows("scaling_cuda_per_gpu", r["scaling_cuda_per_gpu"], med)
    m = r["machine"]
    head = (
        f"torchdeck bench — {m['cpu_cores']} CPU cores, torch {m['torch']}, "
        f"{m['threads']} threads; gpt"
        + (" (tiny: --quick)" if r["quick"] else "")
        + f"; A/B rounds: {r['settings'].get('overhead_rounds', '-')} × "
        f"{r['settings'].get('overhead_window_s', 0):g} s headless, "
        f"{r['settings']['rounds']} × {r['settings']['window_s']:g} s in the app; "
        "median [min–max]"
    )
    w0 = max((len(a) for a, _, _ in rows), default=0)
    w1 = max((len(b) for _, b, _ in rows), default=0)
    load = m.get("load_avg_1min") or {}
    if load.get("start") is not None:
        head += (
            f"\nload average (1 min) {load['start']} at the start, {load.get('end')} at "
            "the end: other work on the machine slows both sides of each ratio"
        )
    lines = [head, ""] + [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)
