"""The app-side probe of ``torchdeck bench`` (``tui.bench_probe``): resident memory from /proc,
and its engine: a detached one of its own, as ``torchdeck`` makes it, or the one it attaches
to. (The probe runs end to end in tests/core/test_bench_cli.py.)"""

from __future__ import annotations


def test_probe_reads_resident_memory():
    from tui.bench_probe import rss_mb

    mine = rss_mb()
    assert mine is not None and 5 < mine < 100_000
    assert rss_mb(2**22 + 12345) is None  # above Linux's largest pid: no such process


def test_probe_drives_the_app_over_a_socket_as_torchdeck_does(tmp_path):
    from tui.bench_probe import build_parser, engine_client, main

    own = engine_client(build_parser().parse_args(["--out", "x", "--run-dir", str(tmp_path)]))
    assert own.spawn is not None and own.role == "ui" and own.socket_path is None
    attach = build_parser().parse_args(["--out", "x", "--mode", "attach", "--socket", "/s.sock"])
    client = engine_client(attach)
    assert client.spawn is None and client.socket_path == "/s.sock" and client.role == "ui"
    assert main(["--out", str(tmp_path / "r.json"), "--mode", "attach"]) == 2  # no --socket
