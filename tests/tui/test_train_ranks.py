"""A job of several ranks in the Train pane, fed fixed progress (no engine): the rank count under
tokens/s, each rank's step time, a slow rank marked in colour and named in words, in the 20
columns the metrics have at 80x24; a single-process report shows none of it."""

from __future__ import annotations

from dataclasses import replace

from textual.geometry import Region

from tests.tui.test_snapshots import fake_app, feed, progress
from tui.widgets.status_bar import StatusBar
from tui.widgets.train_metrics import TrainMetrics


def send(app, data) -> None:
    app.on_engine_event_received(type("E", (), {"name": "train_progress", "data": data})())


def lines(widget) -> list[str]:
    strips = widget.render_lines(Region(0, 0, *widget.outer_size))
    return [strip.text.rstrip() for strip in strips]


def styles_of(widget, text: str) -> list[str]:
    """The style of every segment on screen whose text starts with ``text``."""
    strips = widget.render_lines(Region(0, 0, *widget.outer_size))
    return [str(seg.style) for strip in strips for seg in strip if seg.text.startswith(text)]


def ranks(rank_ms: list[float], step: int = 1250):
    return replace(progress(step), world_size=len(rank_ms), rank_ms=rank_ms, tokens_per_s=39700.0)


async def test_two_ranks_show_the_job_rate_each_ranks_time_and_the_slow_one():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        metrics = app.query_one(TrainMetrics)
        single = lines(metrics)
        assert [line.split()[0] for line in single if line] == [
            "step",
            "loss",
            "val",
            "tok/s",
            "lr",
            "‖grad‖",
            "elapsed",
            "ETA",
        ]

        send(app, ranks([4.1, 9.8]))
        await pilot.pause()
        await pilot.pause()
        shown = lines(metrics)
        assert shown[:10] == [
            " step    1250/2000",
            " loss    1.3555",
            " val     1.6549",
            " tok/s   39.7k",
            "         all 2 ranks",
            " rank ms 4.1 · 9.8",
            " slow    rank 1 2.4×",
            " lr      0.0011",
            " ‖grad‖  0.41",
            " elapsed 2m09s",
        ]
        assert shown[10].startswith(" ETA")  # the pane grew to keep every row
        assert all(len(line) <= 20 for line in shown)
        (slow,), (fast,) = styles_of(metrics, "9.8"), styles_of(metrics, "4.1")
        assert slow.startswith("bold #") and not fast.startswith("bold")
        assert slow.split()[1] != fast.split()[0]  # another colour (the theme's red)
        assert styles_of(metrics, "rank 1 2.4×") == [slow]

        send(app, ranks([4.1, 4.3], 1300))  # under 25 % apart: nobody is slow
        await pilot.pause()
        await pilot.pause()
        shown = lines(metrics)
        assert " rank ms 4.1 · 4.3" in shown and not any("slow" in line for line in shown)
        assert not [s for s in styles_of(metrics, "") if "bold" in s]  # nothing is marked

        send(app, progress(1350))  # a single process again: no rank rows
        await pilot.pause()
        await pilot.pause()
        shown = lines(metrics)
        assert not any("rank" in line for line in shown)
        assert [line.split()[0] for line in shown if line] == [
            line.split()[0] for line in single if line
        ]


async def test_many_ranks_show_the_fastest_and_slowest_and_name_the_slow_one():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        send(app, replace(ranks([4.0] * 11 + [19.8]), world_size=12))
        await pilot.pause()
        await pilot.pause()
        shown = lines(app.query_one(TrainMetrics))
        assert "         12 ranks" in shown
        assert " rank ms 4.0–19.8" in shown
        assert " slow    rank 11" in shown  # "rank 11 5.0×" would not fit the column


def test_status_bar_says_the_rate_is_of_all_ranks():
    bar = StatusBar()
    bar.tokens_per_s = 39700.0
    assert str(bar.render()).endswith("39.7k tok/s")
    bar.world_size = 2
    assert str(bar.render()).endswith("39.7k tok/s · 2 ranks")
