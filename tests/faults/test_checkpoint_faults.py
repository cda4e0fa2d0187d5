"""Checkpoint faults, in-process: a full disk while saving (torch's writer or the OS says so),
a diverged model that must not overwrite a good checkpoint, a folder where the checkpoint file
should be, an unsafe pickle, a seed torch cannot take, and a resume corpus whose characters the
checkpoint's vocabulary lacks.

A full disk is injected (``torch.save`` replaced by a writer that fails part-way), never made.
"""

from __future__ import annotations

import errno
import os
import re
import struct
import zipfile
from collections import namedtuple

import pytest
import torch

from core import checkpoint
from core.contract.base import parse_text
from core.contract.settings import GENERATE_SEED, SEED
from core.errors import CheckpointError, CorpusError
from core.session import RunSpec, Session

TEXT = "the cat sat on the mat. " * 60
TINY_MINI = {"n_embd": 16, "n_hidden": 32, "block_size": 16}
TORCH_WRITER_ERROR = (
    "[enforce fail at inline_container.cc:672] . unexpected pos 1216 vs 1110\n"
    "frame #0: c10::ThrowEnforceNotMet(...) + 0x8f"
)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def session(corpus):
    torch.manual_seed(0)
    return Session.create(
        RunSpec(
            preset="mini",
            corpus=str(corpus),
            device="cpu",
            model=TINY_MINI,
            train={"batch_size": 4, "eval_interval": 0, "steps": 5},
        )
    )


@pytest.fixture
def saved(session, tmp_path):
    """A good checkpoint in tmp_path/run, and its bytes."""
    path = tmp_path / "run" / "checkpoint.pt"
    session.save(path)
    return path, path.read_bytes()


def _writer_failing_with(exc: BaseException):
    def write(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 half a checkpoint")  # something lands before the failure
        raise exc

    return write


def _assert_untouched(path, before):
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == ["checkpoint.pt"]  # no temporary file left
    assert checkpoint.load(path)["preset"] == "mini"


# -- item 4: disk full ---------------------------------------------------------------------------


def test_disk_full_from_the_os_is_one_sentence_with_the_space_needed(session, saved, monkeypatch):
    path, before = saved
    monkeypatch.setattr(torch, "save", _writer_failing_with(OSError(errno.ENOSPC, "No space")))
    with pytest.raises(CheckpointError) as info:
        session.save(path)
    message = info.value.message
    assert re.fullmatch(
        rf"cannot write the checkpoint {re.escape(str(path))}: the disk is full "
        r"\(it needs about [\d.]+ (kB|MB), [\d.]+ (kB|MB) free\)",
        message,
    ), message
    assert "previous checkpoint is untouched" in info.value.hint
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_torchs_writer_error_on_a_full_disk_is_ours_not_torchs(session, saved, monkeypatch):
    path, before = saved
    monkeypatch.setattr(torch, "save", _writer_failing_with(RuntimeError(TORCH_WRITER_ERROR)))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: usage(10**6, 10**6 - 500, 500))
    with pytest.raises(CheckpointError) as info:
        session.save(path)
    message = info.value.message
    assert message.startswith(f"cannot write the checkpoint {path}: the disk is full (it needs")
    assert message.endswith(", 0 kB free)") or message.endswith(", 1 kB free)"), message
    assert "enforce" not in message and "inline_container" not in message
    assert "stderr" not in info.value.hint
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_torchs_writer_error_with_room_left_keeps_only_its_first_words(session, saved, monkeypatch):
    path, before = saved
    monkeypatch.setattr(torch, "save", _writer_failing_with(RuntimeError(TORCH_WRITER_ERROR)))
    with pytest.raises(CheckpointError) as info:
        session.save(path)
    assert info.value.message == (
        f"cannot write the checkpoint {path}: unexpected pos 1216 vs 1110"
    )
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_the_size_estimate_covers_the_file(session, saved):
    path, _ = saved
    needed = checkpoint.estimate_size(checkpoint.load(path))
    assert path.stat().st_size <= needed <= path.stat().st_size + 256 * 1024


# -- item 3: a diverged model never overwrites the good checkpoint --------------------------------


def test_non_finite_weights_are_not_saved(session, saved):
    path, before = saved
    with torch.no_grad():
        next(session.model.parameters())[0] = float("nan")
    with pytest.raises(CheckpointError) as info:
        session.save(path)
    assert info.value.message == (
        f"not saved: the weights hold NaN or infinite values (the run diverged); "
        f"{path} is untouched"
    )
    _assert_untouched(path, before)


# -- item 10: a folder in place of the file; an unsafe checkpoint; seeds ---------------------------


def test_a_folder_in_place_of_the_checkpoint_gets_a_sensible_hint(tmp_path):
    (tmp_path / "run" / "checkpoint.pt").mkdir(parents=True)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(tmp_path / "run")
    assert info.value.message == (
        f"{tmp_path / 'run' / 'checkpoint.pt'} is a folder, not a checkpoint file"
    )
    assert "checkpoint.pt/checkpoint.pt" not in info.value.hint.replace(os.sep, "/")


class Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_an_unsafe_checkpoint_is_refused_in_our_words_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "version": 1, "payload": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    message = info.value.message
    assert re.fullmatch(
        rf"refused to load {re.escape(str(path))}: it holds objects other than tensors and "
        r"plain data( \([\w.]+\))?",
        message,
    ), message
    for torch_words in ("WeightsUnpickler", "weights_only", "Please", "Check the", "https://"):
        assert torch_words not in message


@pytest.mark.parametrize("rule", [SEED, GENERATE_SEED], ids=["SEED", "GENERATE_SEED"])
def test_seeds_stop_where_torch_does(rule):
    assert parse_text(rule, str(2**63 - 1)) == (2**63 - 1, "")
    value, message = parse_text(rule, "1180591620717411303424")
    assert value is None and "out of range" in message and str(2**63 - 1) in message
    assert parse_text(rule, "-1")[1]
    torch.manual_seed(2**63 - 1)  # the largest accepted seed works


# -- item 7: a resume corpus that does not fit the vocabulary --------------------------------------


def test_an_explicit_corpus_with_unknown_characters_fails_the_load(saved, tmp_path):
    path, _ = saved
    other = tmp_path / "other.txt"
    other.write_text("the cat sat on the mat. Zoë & Björk! " * 20, encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        Session.load(path, device="cpu", corpus=str(other))
    message = info.value.message
    assert message.startswith(f"the corpus {other} does not fit this checkpoint: it has ")
    for ch in ("Z", "ë", "&", "B", "j", "ö", "k", "!"):
        assert repr(ch) in message
    assert "no training text" not in message
    assert "vocabulary" in info.value.hint


def test_a_missing_corpus_still_loads_the_model_for_prediction(saved, corpus):
    path, _ = saved
    corpus.unlink()
    session = Session.load(path, device="cpu")
    assert session.data is None and session.tokenizer is not None


def test_training_settings_change_on_load(saved):
    path, _ = saved
    session = Session.load(path, device="cpu", train={"lr": 5e-4, "batch_size": 2})
    assert session.train_config.lr == 5e-4 and session.train_config.batch_size == 2


# -- re-attack: a FIFO where the checkpoint should be; a read-only disk ---------------------------


def test_a_fifo_in_place_of_a_checkpoint_is_refused_not_waited_on(tmp_path):
    import threading

    fifo = tmp_path / "checkpoint.pt"
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(
        target=lambda: outcome.append(_error_of(checkpoint.load, tmp_path)), daemon=True
    )
    worker.start()
    worker.join(10)
    if worker.is_alive():  # the old code blocks in open(); unblock it so the test can end
        with open(fifo, "wb"):
            pass
        worker.join(5)
        raise AssertionError("loading a FIFO checkpoint blocked")
    assert outcome == [f"{fifo} is not a regular file (a pipe, a device or a socket)"]


def _error_of(fn, *args) -> str:
    try:
        fn(*args)
    except CheckpointError as exc:
        return exc.message
    return "no error"


def test_a_read_only_disk_is_one_sentence_and_leaves_nothing(tmp_path, monkeypatch):
    from pathlib import Path

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("builtins.open", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)  # even removing the temporary file fails
    with pytest.raises(CheckpointError) as info:
        checkpoint.save({"w": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    target = tmp_path / "checkpoint.pt"
    assert info.value.message == f"cannot write the checkpoint {target}: Read-only file system"
    assert info.value.hint.endswith("nothing was written")


def test_a_checkpoint_whose_bytes_changed_is_refused_by_its_checksums(saved):
    """A bit-rotted or badly copied file used to load, its damaged weights blamed later on the
    learning rate ("training diverged"): its parts' CRC-32s now refuse it, naming the part."""
    path, good = saved
    data = bytearray(good)
    with zipfile.ZipFile(path) as archive:
        part = max(archive.infolist(), key=lambda info: info.file_size)  # the largest tensor
    at = part.header_offset  # its local header: 30 bytes, then its name and extra field
    name_len, extra_len = struct.unpack("<HH", good[at + 26 : at + 30])
    start = at + 30 + name_len + extra_len  # its data: the weights themselves
    assert part.file_size > 40
    for i in range(start + 8, start + 40):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    name = part.filename.split("/", 1)[1]
    assert info.value.message == (
        f"{path} is damaged: its part {name} fails its checksum (its bytes changed after it was "
        "written)"
    )
    assert info.value.hint.startswith("use another checkpoint (the autosave beside it")
    path.write_bytes(good)
    assert checkpoint.load(path)["preset"] == "mini"  # the same file, unchanged, loads


def test_a_save_sweeps_the_half_written_files_of_killed_writers(session, saved):
    """An engine killed while saving left .checkpoint.pt.tmp-PID (up to a checkpoint's size)
    for ever: the next save of that checkpoint removes those whose process is gone."""
    import subprocess
    import sys

    path, _good = saved
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    left = path.with_name(f".checkpoint.pt.tmp-{dead}")
    left.write_bytes(b"PK\x03\x04 half a checkpoint")
    alive = path.with_name(f".checkpoint.pt.tmp-{os.getppid()}")  # a writer still at work
    alive.write_bytes(b"PK\x03\x04 being written")
    other = path.with_name(".other.pt.tmp-1")  # another checkpoint's: not this save's business
    other.write_bytes(b"x")
    session.save(path)
    assert not left.exists()
    assert alive.exists() and other.exists()
    assert checkpoint.load(path)["preset"] == "mini"
