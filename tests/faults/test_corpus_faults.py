"""Corpus faults (issue 15, items 2 and 8): odd files given as --corpus, and memory while loading.

Item 2: the size cap read st_size, which is 0 for devices and FIFOs, so /dev/zero was read until a
MemoryError and a FIFO nobody writes to hung in open(). Now only regular files are opened, the
refusal names what the path is, and reads are bounded. Item 8: a corpus took ~18x its size in
memory (Python lists and int64 tensors); now ids are compact (uint8 for small vocabularies).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import core.data as data_module
from core.data import MAX_CORPUS_BYTES, load_data, read_corpus
from core.errors import CorpusError

POSIX = os.name == "posix"
REPO = Path(__file__).resolve().parents[2]
NOT_REGULAR_HINT = "save it to a file first (e.g. command > corpus.txt)"
TEXT = "The quick brown fox jumps over the lazy dog; 0123456789.\n" * 20


def _load_with_timeout(path, seconds: float = 10.0, on_hang=None):
    """load_data(path) in a thread: a regression that blocks fails the test, not the run."""
    result: dict = {}

    def target():
        try:
            result["data"] = load_data(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if on_hang:
            on_hang()
        thread.join(5)
        pytest.fail(f"loading {path} did not return within {seconds} s")
    return result


@pytest.fixture
def never_opened(monkeypatch):
    """Fail at once if anything opens one of the paths added to the returned set."""
    paths: set[str] = set()
    real_os_open, real_open = os.open, open

    def guard(file):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) in paths:
            raise AssertionError(f"{file} was opened; it must be refused from os.stat")

    def os_open(file, *args, **kwargs):
        guard(file)
        return real_os_open(file, *args, **kwargs)

    def io_open(file, *args, **kwargs):
        guard(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr("builtins.open", io_open)
    monkeypatch.setattr("io.open", io_open)
    return paths


# -- item 2: files that are not regular files -----------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_refused_at_once_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def unblock():  # a writer end releases a reader stuck in open(), so the thread can end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)

    result = _load_with_timeout(fifo, on_hang=unblock)
    error = result.get("error")
    assert isinstance(error, CorpusError), result
    assert error.message == f"corpus path is a FIFO (named pipe), not a regular file: {fifo}"
    assert NOT_REGULAR_HINT in error.hint


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_before_reading_a_byte(never_opened):
    never_opened.add("/dev/zero")  # the old code read it until a MemoryError
    with pytest.raises(CorpusError) as info:
        load_data("/dev/zero")
    assert info.value.message == (
        "corpus path is a character device (like /dev/zero or a terminal), "
        "not a regular file: /dev/zero"
    )
    assert NOT_REGULAR_HINT in info.value.hint


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs unix sockets")
def test_socket_is_refused(tmp_path):
    path = tmp_path / "sock"
    if len(os.fsencode(path)) >= 100:
        pytest.skip("temporary path too long for a unix socket")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(os.fspath(path))
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        with pytest.raises(CorpusError) as info:
            load_data(path)
    finally:
        server.close()
    assert info.value.message == f"corpus path is a socket, not a regular file: {path}"
    assert NOT_REGULAR_HINT in info.value.hint


def test_directory_is_refused(tmp_path, never_opened):
    never_opened.add(os.fspath(tmp_path))
    with pytest.raises(CorpusError) as info:
        read_corpus(tmp_path)
    assert info.value.message == f"corpus path is a directory: {tmp_path}"
    assert "one UTF-8 text file" in info.value.hint


@pytest.mark.skipif(not POSIX, reason="symlinks to devices")
def test_symlink_to_a_device_is_judged_by_its_target(tmp_path, never_opened):
    link = tmp_path / "corpus.txt"
    link.symlink_to("/dev/zero")
    never_opened.update({"/dev/zero", os.fspath(link)})
    with pytest.raises(CorpusError, match="is a character device"):
        load_data(link)


def test_oversized_file_is_refused_from_its_size(tmp_path, never_opened):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:  # sparse: takes no disk space
        f.truncate(MAX_CORPUS_BYTES + 1)
    never_opened.add(os.fspath(path))
    with pytest.raises(CorpusError) as info:
        load_data(path)
    assert info.value.message == f"corpus file is 1.0 GiB: {path}"


def test_a_file_growing_past_the_cap_while_read_is_stopped_at_the_cap(tmp_path, monkeypatch):
    """The read is bounded: a writer appending during the load cannot push it past the cap."""
    path = tmp_path / "growing.txt"
    path.write_text(TEXT, encoding="utf-8")
    monkeypatch.setattr(data_module, "MAX_CORPUS_BYTES", 2 * len(TEXT))
    monkeypatch.setattr(data_module, "CHUNK_BYTES", 256)
    read_sizes = []

    def grow(stage, done, total):  # another program appending while we read
        read_sizes.append(done)
        with open(path, "a", encoding="utf-8") as f:
            f.write(TEXT)

    with pytest.raises(CorpusError) as info:
        load_data(path, progress=grow)
    assert info.value.message == f"corpus file grew past 1 GiB while it was read: {path}"
    assert max(read_sizes) <= 2 * len(TEXT)


def test_a_file_changed_between_the_two_passes_is_refused(tmp_path):
    path = tmp_path / "changing.txt"
    path.write_text(TEXT, encoding="utf-8")

    changed = []

    def change(stage, done, total):  # appended to after the first pass counted the characters
        if stage == "encoding" and not changed:
            changed.append(done)
            with open(path, "a", encoding="utf-8") as f:
                f.write("more text")

    with pytest.raises(CorpusError, match="corpus file changed while it was read"):
        load_data(path, progress=change)


# -- item 8: memory, progress and Ctrl-C while loading --------------------------------------------


def _tensor_bytes(obj) -> int:
    """Bytes held by the tensors stored on obj, each storage counted once."""
    storages = [v.untyped_storage() for v in vars(obj).values() if isinstance(v, torch.Tensor)]
    return sum({s.data_ptr(): s.nbytes() for s in storages}.values())


@pytest.mark.parametrize(
    "unit, dtype",
    [(TEXT, torch.uint8), ("".join(chr(0x4E00 + i) for i in range(400)) + "\n", torch.int16)],
    ids=["ascii-uint8", "cjk-int16"],
)
def test_ids_are_stored_compactly(tmp_path, unit, dtype):
    path = tmp_path / "corpus.txt"
    path.write_text(unit * (3_000_000 // len(unit.encode())), encoding="utf-8")
    size = path.stat().st_size
    data = load_data(path)
    held = _tensor_bytes(data)
    assert held <= 2 * size + 4096  # the old int64 tensors held 8 bytes per character
    assert data.train_ids.dtype == data.val_ids.dtype == dtype
    assert held == data.nbytes == data.n_chars * dtype.itemsize


def test_batches_are_int64_and_the_same_as_from_int64_ids(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT * 50, encoding="utf-8")
    data = load_data(path)
    x, y = data.get_batch("train", 8, 16, torch.Generator().manual_seed(7))
    assert x.dtype == y.dtype == torch.long
    wide = data.train  # the int64 ids, as the old code stored them
    assert wide.dtype == torch.long
    starts = torch.randint(len(wide) - 16, (8,), generator=torch.Generator().manual_seed(7))
    windows = wide[starts[:, None] + torch.arange(17)]
    assert torch.equal(x, windows[:, :-1]) and torch.equal(y, windows[:, 1:])


def test_progress_reports_both_passes_up_to_the_file_size(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "CHUNK_BYTES", 4096)
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT * 100, encoding="utf-8")
    size = path.stat().st_size
    calls = []
    load_data(path, progress=lambda stage, done, total: calls.append((stage, done, total)))
    stages = [stage for stage, _, _ in calls]
    assert stages == sorted(stages, key=["reading", "encoding"].index)
    for stage in ("reading", "encoding"):
        dones = [done for s, done, total in calls if s == stage]
        assert dones == sorted(dones) and dones[-1] == size and len(dones) > 10
        assert {total for s, _, total in calls if s == stage} == {size}


def test_interrupt_while_loading_propagates_and_closes_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "CHUNK_BYTES", 4096)
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT * 100, encoding="utf-8")
    fds = Path("/proc/self/fd")
    before = len(list(fds.iterdir())) if fds.is_dir() else None

    def interrupt(stage, done, total):
        if done > 8192:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_data(path, progress=interrupt)
    if before is not None:
        assert len(list(fds.iterdir())) == before


PEAK_SCRIPT = """
import resource, sys
from core.data import load_data
load_data(None)  # warm up: numpy, torch and the code paths, on the small built-in corpus
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
data = load_data(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024, data.n_chars)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
def test_peak_memory_while_loading_is_under_twice_the_file(tmp_path):
    path = tmp_path / "corpus.txt"
    line = "Tiếng Việt có dấu, and plain ASCII text for the rest of the line.\n"
    path.write_text(line * (24_000_000 // len(line.encode())), encoding="utf-8")
    size = path.stat().st_size
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, os.fspath(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr
    grew, n_chars = map(int, out.stdout.split())
    assert n_chars > 20_000_000
    # the old loader grew by over 250 MiB here; now: the ids plus a few MiB of pieces
    assert grew <= 2 * size + 64 * 2**20, f"peak grew {grew / 2**20:.0f} MiB for {size} bytes"


# -- progress while a large corpus loads ---------------------------------------------------------


async def test_the_engine_reports_its_progress_while_a_corpus_loads(tmp_path):
    from core.client import EngineClient

    corpus = tmp_path / "big.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 200_000, encoding="utf-8")
    size = corpus.stat().st_size
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=60)
    try:
        await client.request("configure", {"preset": "mini", "corpus": str(corpus)})
        seen = [e.data for e in client.drain_events() if e.event == "load_progress"]
    finally:
        await client.close()
    stages = [d["stage"] for d in seen]
    assert stages[0] == "reading" and stages[-1] == "encoding", stages
    assert {"stage": "reading", "done": size, "total": size} in seen
    assert seen[-1] == {"stage": "encoding", "done": size, "total": size}
    assert all(0 <= d["done"] <= d["total"] == size for d in seen)


async def test_the_status_bar_says_how_far_the_load_is():
    from core.contract.ops import LoadProgress
    from tests.tui.conftest import FakeClient
    from tui.app import TorchdeckApp
    from tui.widgets.status_bar import StatusBar

    app = TorchdeckApp(client=FakeClient())
    async with app.run_test(size=(100, 24)) as pilot:
        status = app.query_one(StatusBar)
        app.show_load_progress(LoadProgress("reading", 450, 1000))
        await pilot.pause()
        assert "reading corpus 45%" in str(status.render())
        assert not status.loading  # Textual's loading cover stays off: the text is what shows
        app._heartbeat()  # no request waits for the engine any more: the load is over
        await pilot.pause()
        assert "corpus" not in str(status.render())


async def test_the_form_shows_the_load_progress_of_a_large_corpus(tmp_path):
    """Apply a large corpus from the Train form (the app waits on that action): the status bar
    still shows how far the load is while it runs."""
    import asyncio

    from textual.widgets import Input

    from tui.app import TorchdeckApp
    from tui.widgets.status_bar import StatusBar

    small = tmp_path / "small.txt"
    small.write_text("the cat sat on the mat. " * 100, encoding="utf-8")
    big = tmp_path / "big.txt"
    big.write_text("the quick brown fox jumps over the lazy dog. " * 1_500_000, encoding="utf-8")
    app = TorchdeckApp(preset="mini", corpus=str(small), device="cpu")
    async with app.run_test(size=(100, 30)) as pilot:
        status = app.query_one(StatusBar)
        for _ in range(600):
            if app.last_info is not None:
                break
            await pilot.pause(0.1)
        app.query_one("#field-corpus", Input).value = str(big)
        app.query_one("#train-pane").focus()
        press = asyncio.create_task(pilot.press("a"))
        shown = set()
        for _ in range(600):
            text = str(status.render())
            if "corpus" in text:
                shown.add(text.split("●")[1].split("│")[0].strip())
            if press.done() and app.last_info.corpus["source"] == str(big):
                break
            await asyncio.sleep(0.05)
        await press
        assert any(s.startswith(("reading corpus", "encoding corpus")) for s in shown), shown
        assert "corpus" not in str(status.render()).split("│")[0]  # gone once it has loaded
