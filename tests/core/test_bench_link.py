"""``torchdeck bench``'s link figure and its engines: a client that counts the bytes it reads,
a budgeted client held to its budget (plus one report) in a controlled case, the bench's
engines always ended, and the bench training as the app does. No speed is asserted."""

from __future__ import annotations

import asyncio
import os

from core.bench.engines import CountingClient, _Counted, end_engines, private_runtime, shutdown
from core.bench.engines import spawn as spawn_engine
from core.bench.link_probes import link_window
from core.bench.plan import APP_REPORT_INTERVAL_S, REMOTE_BUDGET, SLOW_BUDGET, TARGETS, Plan

BUDGET = 500  # bytes/s: below what a client gets while mini trains, however slowly


def number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def test_the_counted_reader_notes_each_line_and_its_size():
    async def main():
        stream = asyncio.StreamReader(limit=64)
        stream.feed_data(b'{"event": "a"}\n{"event": "bb"}\nrest')
        stream.feed_eof()
        lines: list[tuple[float, int]] = []
        counted = _Counted(stream, lines)
        assert await counted.readuntil(b"\n") == b'{"event": "a"}\n'
        assert await counted.readuntil(b"\n") == b'{"event": "bb"}\n'
        try:
            await counted.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            assert exc.partial == b"rest"
        return lines

    lines = asyncio.run(main())
    assert [n for _, n in lines] == [15, 16, 4]
    assert all(number(t) for t, _ in lines)
    client = CountingClient(socket_path="/nonexistent")
    client.lines = [(1.0, 10), (2.0, 20), (3.0, 40)]
    assert client.received(1.5, 3.0) == (1, 20)


def test_the_bench_trains_as_the_app_and_budgets_as_remote():
    from cli.remote import DEFAULT_BUDGET
    from tui.panes.train_pane import REPORT_INTERVAL_S

    assert APP_REPORT_INTERVAL_S == REPORT_INTERVAL_S
    assert REMOTE_BUDGET == DEFAULT_BUDGET == Plan().link_budget
    assert 0 < SLOW_BUDGET == Plan().link_slow_budget < REMOTE_BUDGET
    assert TARGETS["attach_s"] == 1.0 and TARGETS["link_bytes_per_s"] == 20_000
    quick, full = Plan.quick_plan(), Plan()
    assert quick.attach_steps == full.attach_steps == 10_000
    assert quick.attach_runs == 1 < full.attach_runs
    assert quick.link_window_s < full.link_window_s


def test_a_budgeted_client_gets_its_budget_plus_one_report(tmp_path, corpus_file):
    """Two clients on one engine while mini trains: one plain, one with a budget far below what
    mini's reports make. Over the window the budgeted one receives at most the budget, plus
    what its token bucket held at the start (one second's worth), plus one report."""
    window = 2.0
    configure = {
        "preset": "mini",
        "corpus": str(corpus_file),
        "device": "cpu",
        "steps": 1_000_000,
        "train": {"batch_size": 4, "eval_interval": 0},
    }

    async def main():
        with private_runtime(tmp_path / "rt"):
            path = await spawn_engine(tmp_path / "engine", nice=0, threads=1)
            clients = {
                "plain": CountingClient(socket_path=str(path), role="ui"),
                "budgeted": CountingClient(socket_path=str(path), role="ui", budget=BUDGET),
            }
            try:
                for client in clients.values():
                    await client.start(timeout=60)
                return await link_window(clients, configure, warmup=0.5, window=window)
            finally:
                for client in clients.values():
                    await client.close(shutdown=False)
                await shutdown(path)

    out = asyncio.run(main())
    plain, budgeted = out["plain"], out["budgeted"]
    for f in (plain, budgeted):
        for key in ("bytes_per_s", "reports_per_s", "losses_per_report", "steps_per_s"):
            assert number(f[key]) and f[key] >= 0, (key, f)
        assert isinstance(f["lines"], int) and isinstance(f["stride"], int) and f["stride"] >= 1
        assert f["window_s"] >= window
    assert plain["budget"] == 0 and budgeted["budget"] == BUDGET
    assert plain["lines"] >= 2 and plain["bytes_per_s"] > BUDGET  # the controlled case holds
    assert plain["bytes_per_line"] > 0 and plain["max_line_bytes"] >= plain["bytes_per_line"]
    received = budgeted["bytes_per_s"] * budgeted["window_s"]
    assert received <= BUDGET * (budgeted["window_s"] + 1) + budgeted["max_line_bytes"], out


def test_the_bench_ends_every_engine_it_leaves(tmp_path):
    folder = tmp_path / "rt"
    before = os.environ.get("TORCHDECK_RUNTIME_DIR")

    async def main():
        with private_runtime(folder):
            assert os.environ["TORCHDECK_RUNTIME_DIR"] == str(folder)
            path = await spawn_engine(tmp_path / "engine", nice=0, threads=1)
            assert path.parent == folder and path.exists()
            return int(path.name.split("-")[1].split(".")[0])  # left running

    pid = asyncio.run(main())
    assert os.environ.get("TORCHDECK_RUNTIME_DIR") == before
    assert not list(folder.glob("engine-*"))
    try:  # gone, or a zombie of this process's (spawn_detached's Popen) until reaped
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    assert end_engines(folder) == [] and end_engines(tmp_path / "none") == []


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
