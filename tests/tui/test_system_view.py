"""The machine beside the run, on the app's side: the Train pane's one line (figures, or the
first warning in the warning colour), the view on key ``u`` (every figure, the warnings, two
history charts, live while it is up) and the history an attach reply brings. The app is the
real one against a fake engine; ``system`` events go through the engine link's own path (each
is checked as a ``SystemSample``, as the engine's would be)."""

from __future__ import annotations

from textual.color import Color
from textual.widgets import Input

from core.contract import AttachResult, EngineInfo
from core.protocol import Event
from tests.tui.conftest import FakeClient
from tests.tui.test_snapshots import INFO
from tui.app import TorchdeckApp
from tui.attach import restore
from tui.screens.help_screen import HelpScreen
from tui.screens.system_screen import HistoryChart, SystemScreen, histories
from tui.widgets.system_line import HISTORY, WAITING, MachineState, SystemLine

SIZE = (80, 24)
NOTE = "no NVIDIA GPU: nvidia-ml-py is not installed (pip install nvidia-ml-py)"
MEM_WARNING = (
    "GPU memory 95% full: a larger batch or model will run out; lower --batch-size or use "
    "--grad-accum"
)


def cpu_sample(t: float = 1000.0, **changes) -> dict:
    """A machine without an NVIDIA GPU, as the engine sends it."""
    sample = {
        "t": t,
        "proc_cpu_pct": 12.0,
        "proc_rss_mb": 512.0,
        "cpu_pct": 37.0,
        "cpu_count": 8,
        "mem_used_mb": 5222.4,
        "mem_total_mb": 23961.6,
        "mem_pct": 21.8,
        "gpu_note": NOTE,
        "training": False,
    }
    return {**sample, **changes}


def gpu_sample(t: float = 1000.0, **changes) -> dict:
    """A machine with one H100 busy training."""
    sample = cpu_sample(t, proc_cpu_pct=104.0, proc_rss_mb=1228.8, training=True)
    del sample["gpu_note"]
    used = changes.pop("gpu_mem_used_mb", 72908.8)
    util = changes.get("gpu_util_pct", 98.0)
    sample.update(
        gpu_util_pct=util,
        gpu_mem_used_mb=used,
        gpu_mem_total_mb=81920.0,
        gpu_mem_pct=round(100 * used / 81920.0, 1),
        gpu_temp_c=68.0,
        gpu_power_w=312.0,
        gpus=[
            {
                "index": 0,
                "name": "NVIDIA H100 80GB HBM3",
                "util_pct": util,
                "mem_used_mb": used,
                "mem_total_mb": 81920.0,
                "temp_c": 68.0,
                "power_w": 312.0,
                "power_limit_w": 700.0,
            }
        ],
        torch_alloc_mb=61542.4,
        torch_reserved_mb=67584.0,
        torch_peak_mb=71884.8,
    )
    return {**sample, **changes}


def fake_app() -> TorchdeckApp:
    return TorchdeckApp(client=FakeClient())


async def send(pilot, *samples: dict) -> None:
    """``system`` events, as the engine link forwards them (checked, then posted)."""
    for sample in samples:
        pilot.app.engine._forward(Event("system", sample))
    await pilot.pause()


def line_of(app) -> SystemLine:
    return app.query_one("#system-line", SystemLine)


def warning_colour(app) -> Color:
    return Color.parse(app.theme_variables["warning"])


def view_text(screen: SystemScreen) -> str:
    return "\n".join(strip.text for strip in screen._compositor.render_strips())


async def test_the_line_waits_then_shows_a_cpu_only_machine_in_80_columns():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        line = line_of(app)
        assert line.size.width == 80
        assert line.text() == WAITING
        await send(pilot, cpu_sample())
        assert line.text() == "cpu 37% · ram 5.1/23.4 GiB · engine 512 MiB · gpu: no NVIDIA GPU"
        assert not line.has_class("-warning")
        assert line.styles.color != warning_colour(app)


async def test_the_line_shows_a_gpu_machine_in_80_columns():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, gpu_sample())
        assert line_of(app).text() == (
            "cpu 37% · ram 5.1/23.4 GiB · engine 1.2 GiB · gpu 98% · vram 71.2/80.0 GiB 68°C"
        )
        assert app.machine.warnings == []


async def test_gpu_memory_over_90_percent_turns_the_line_into_its_warning():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        line = line_of(app)
        await send(pilot, gpu_sample(1000.0, gpu_mem_pct=89.9))
        assert not line.has_class("-warning")
        assert line.text().startswith("cpu 37%")
        await send(pilot, gpu_sample(1001.0, gpu_mem_pct=95.0))
        assert line.has_class("-warning")
        assert line.styles.color == warning_colour(app)
        assert line.text() == MEM_WARNING[:79] + "…"  # cut to the pane's 80 columns
        assert len(line.text()) == 80
        await send(pilot, gpu_sample(1002.0, gpu_mem_pct=50.0))  # it passes: figures again
        assert not line.has_class("-warning")
        assert line.text().startswith("cpu 37%")


async def test_low_gpu_utilisation_warns_only_after_ten_seconds_of_training():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        line = line_of(app)
        await send(pilot, *(gpu_sample(1000.0 + i, gpu_util_pct=30.0) for i in range(10)))
        assert app.machine.warnings == []  # 9 s so far
        assert not line.has_class("-warning")
        await send(pilot, gpu_sample(1010.0, gpu_util_pct=30.0))
        assert line.has_class("-warning")
        assert line.text().startswith("GPU busy 30% while training: the input pipeline")
        assert line.text().endswith("…")
        # not training: no warning, and the count starts again
        await send(pilot, gpu_sample(1011.0, gpu_util_pct=30.0, training=False))
        assert not line.has_class("-warning")
        await send(pilot, *(gpu_sample(1012.0 + i, gpu_util_pct=30.0) for i in range(10)))
        assert app.machine.warnings == []
        await send(pilot, gpu_sample(1022.0, gpu_util_pct=30.0))
        assert app.machine.warnings[0].startswith("GPU busy 30%")


def test_the_history_is_bounded_and_skips_a_sample_it_holds():
    machine = MachineState()
    machine.seed([cpu_sample(float(t)) for t in range(1, 701)])
    assert len(machine.samples) == HISTORY == 600
    assert machine.samples[0]["t"] == 101.0
    assert not machine.add(cpu_sample(700.0))  # an event that crossed the attach reply
    assert machine.add(cpu_sample(701.0))
    assert machine.samples[-1]["t"] == 701.0 and len(machine.samples) == 600
    # the wire writes NaN as "nan": such a figure is left out, never printed
    assert machine.add(cpu_sample(702.0, cpu_pct="nan"))
    assert "cpu_pct" not in machine.latest


async def test_u_opens_the_live_view_and_escape_or_u_closes_it():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, gpu_sample(1000.0))
        await pilot.press("u")
        assert isinstance(app.screen, SystemScreen)
        screen = app.screen
        await pilot.pause()
        text = view_text(screen)
        assert "NVIDIA H100 80GB HBM3" in text
        assert "allocated 60.1 GiB · reserved 66.0 GiB · peak 70.2 GiB" in text
        assert "cpu 104% of a core · rss 1.2 GiB" in text
        assert "312 / 700 W" in text
        assert "no warnings" in text
        assert "GPU utilisation (%)" in text and "GPU memory used (GiB)" in text
        assert "seconds ago" in text
        # a new sample: the figures, the warnings and the charts follow it
        charts = list(screen.query(HistoryChart))
        builds = [c.builds for c in charts]
        await send(pilot, gpu_sample(1001.0, gpu_mem_used_mb=78643.2, gpu_util_pct=41.0))
        text = view_text(screen)
        assert "busy 41%" in text and "76.8 / 80.0 GiB (96%)" in text
        assert "! GPU memory 96% full" in text
        assert [c.builds for c in charts] == [b + 1 for b in builds]
        await pilot.pause()
        assert [c.builds for c in charts] == [b + 1 for b in builds]  # none on a repaint
        await pilot.press("escape")
        assert not isinstance(app.screen, SystemScreen)
        await pilot.press("u")
        assert isinstance(app.screen, SystemScreen)
        await pilot.press("u")
        assert not isinstance(app.screen, SystemScreen)


async def test_the_view_of_a_cpu_only_machine_says_why_there_is_no_gpu():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, *(cpu_sample(1000.0 + i, proc_rss_mb=500.0 + i) for i in range(30)))
        await pilot.press("u")
        await pilot.pause()
        text = view_text(app.screen)
        assert "gpu      no NVIDIA GPU: nvidia-ml-py is not installed" in text
        assert "cpu 37% of 8 cores · ram 5.1 / 23.4 GiB (22%)" in text
        assert "machine CPU (%)" in text and "engine RSS (GiB)" in text
        assert "torch" not in text


async def test_u_in_a_text_box_is_typed_not_a_key():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one("#field-lr", Input)
        box.focus()
        await pilot.pause()
        await pilot.press("u")
        assert not isinstance(app.screen, SystemScreen)
        assert box.value.endswith("u")


async def test_help_lists_the_machine_key():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "the machine: CPU, memory and GPU" in view_text(app.screen)


async def test_an_attach_reply_seeds_the_line_and_the_charts():
    history = [gpu_sample(1000.0 + i, gpu_util_pct=float(i % 100)) for i in range(300)]
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        result = AttachResult(engine=EngineInfo(), state="running", session=INFO, system=history)
        restore(app, result, announce=False)
        await pilot.pause()
        assert len(app.machine.samples) == 300
        assert (
            line_of(app).text().startswith("cpu 37% · ram 5.1/23.4 GiB · engine 1.2 GiB · gpu 99%")
        )
        left, right = histories(list(app.machine.samples))
        assert left.xs[0] == -299.0 and left.xs[-1] == 0.0 and len(left.ys) == 300
        assert right.top == 80.0
        await pilot.press("u")
        await pilot.pause()
        chart = app.screen.query_one("#system-chart-a", HistoryChart)
        assert chart.history.ys == left.ys
        assert chart.builds >= 1
        assert "300" in chart.text()  # the x axis reaches back five minutes
        assert "training · 5 min of samples" in view_text(app.screen)
        # an event the reply already held is not counted twice
        await send(pilot, gpu_sample(1299.0))
        assert len(app.machine.samples) == 300


def fixed_samples() -> list[dict]:
    """Two minutes of a run whose GPU memory creeps up to 92%: its warning shows."""
    out = []
    for i in range(120):
        util = 60.0 + 35.0 * ((i % 40) / 40)
        out.append(gpu_sample(1000.0 + i, gpu_util_pct=util, gpu_mem_used_mb=63000.0 + 115 * i))
    return out


def test_system_view_snapshot(snap_compare):
    async def run_before(pilot) -> None:
        app = pilot.app
        app.machine.seed(fixed_samples())
        app.machine_changed()
        await pilot.press("u")
        await pilot.pause()

    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=run_before)


def test_used_of_says_each_unit_when_they_differ():
    from tui.screens.system_screen import _used_of

    assert _used_of(641.0, 24064.0, 2.7) == "641 MiB / 23.5 GiB (3%)"
    assert _used_of(72908.8, 81920.0) == "71.2 / 80.0 GiB (89%)"
