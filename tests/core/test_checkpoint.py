"""Checkpoints: save/load gives the same model, resuming continues exactly, bad files are
refused with a clear message, and writes are atomic."""

from __future__ import annotations

import os

import pytest
import torch

from core import checkpoint
from core.errors import CheckpointError, ConfigError
from core.predict import predict
from core.session import Session

pytestmark = pytest.mark.usefixtures("single_thread")


def _train(session: Session, n: int) -> list[float]:
    for _ in range(n):
        session.trainer.train_step()
    return session.trainer.flush()["losses"]


def _files(folder) -> list[str]:
    return sorted(os.listdir(folder))


# -- save and load --------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["mini", "mlp", "gpt"])
def test_save_load_gives_identical_predictions(preset, tmp_path, corpus_file, make_session):
    session = make_session(preset, corpus_file, steps=30)
    _train(session, 15)
    path = session.save(tmp_path / "run")
    assert path == str(tmp_path / "run" / "checkpoint.pt")
    loaded = Session.load(path, device="cpu")
    assert loaded.preset == preset
    assert loaded.model_config == session.model_config
    assert loaded.train_config == session.train_config
    assert loaded.tokenizer.chars == session.tokenizer.chars
    assert loaded.corpus == str(corpus_file)
    for (n1, t1), (n2, t2) in zip(
        session.model.state_dict().items(), loaded.model.state_dict().items()
    ):
        assert n1 == n2 and torch.equal(t1, t2)
    for text in ["the cat", "on the mat. the", "t"]:
        a = predict(session.model, session.tokenizer, text, session.block_size, session.device)
        b = predict(loaded.model, loaded.tokenizer, text, loaded.block_size, loaded.device)
        assert a["top"] == b["top"]  # same characters, same probabilities, exactly
        assert a["loss"] == b["loss"]
    assert loaded.describe().params == session.describe().params


def test_gpt_checkpoint_keeps_the_weights_tied(tmp_path, corpus_file, make_session):
    session = make_session("gpt", corpus_file, steps=5)
    _train(session, 5)
    loaded = Session.load(session.save(tmp_path / "g.pt"), device="cpu")
    assert loaded.model.lm_head.weight is loaded.model.wte.weight
    assert loaded.describe().tied == [["wte.weight", "lm_head.weight"]]


def test_parabola_checkpoint_round_trip(tmp_path, make_session):
    session = make_session("parabola")
    _train(session, 30)
    loaded = Session.load(session.save(tmp_path / "p.pt"), device="cpu")
    assert loaded.model.x.item() == session.model.x.item()
    assert loaded.tokenizer is None and loaded.data is None
    assert loaded.trainer.step == 30
    _train(session, 50)
    _train(loaded, 50)
    assert loaded.model.x.item() == session.model.x.item()


@pytest.mark.parametrize("preset", ["gpt", "mlp"])
def test_resume_continues_exactly(preset, tmp_path, corpus_file, make_session):
    settings = dict(steps=20, warmup_steps=5, eval_interval=5, eval_batches=2)
    straight = make_session(preset, corpus_file, **settings)
    straight_losses = _train(straight, 20)

    first = make_session(preset, corpus_file, **settings)
    first_losses = _train(first, 10)
    path = first.save(tmp_path / "run")
    resumed = Session.load(path, device="cpu")
    assert resumed.trainer.step == 10
    assert resumed.trainer.train_history.steps == list(range(1, 11))
    assert resumed.trainer.train_history.values == first_losses
    second_losses = _train(resumed, 10)

    assert first_losses + second_losses == pytest.approx(straight_losses, rel=1e-6, abs=1e-6)
    assert resumed.trainer.step == straight.trainer.step == 20
    assert resumed.trainer.done
    assert resumed.trainer.train_history.steps == list(range(1, 21))
    assert resumed.trainer.train_history.values == pytest.approx(
        straight.trainer.train_history.values, rel=1e-6, abs=1e-6
    )
    assert (
        resumed.trainer.val_history.steps == straight.trainer.val_history.steps == [5, 10, 15, 20]
    )
    assert resumed.trainer.val_history.values == pytest.approx(
        straight.trainer.val_history.values, rel=1e-6, abs=1e-6
    )
    for p, q in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_load_with_training_overrides(tmp_path, corpus_file, make_session):
    session = make_session("mini", corpus_file, steps=10)
    _train(session, 10)
    loaded = Session.load(session.save(tmp_path / "m.pt"), device="cpu", train={"steps": 30})
    assert loaded.train_config.steps == 30 and loaded.trainer.step == 10
    assert not loaded.trainer.done


def test_missing_corpus_still_predicts_but_cannot_train(tmp_path, corpus_file, make_session):
    session = make_session("mini", corpus_file, steps=10)
    _train(session, 3)
    path = session.save(tmp_path / "m.pt")
    corpus_file.unlink()
    loaded = Session.load(path, device="cpu")
    assert loaded.data is None
    out = predict(loaded.model, loaded.tokenizer, "the", loaded.block_size, loaded.device)
    assert len(out["top"]) == 10
    with pytest.raises(ConfigError, match="no training text is loaded"):
        loaded.trainer.train_step()


# -- refusals -------------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path, corpus_file, make_session):
    session = make_session("gpt", corpus_file, steps=5)
    _train(session, 2)
    return tmp_path / "ok.pt", session.save(tmp_path / "ok.pt")


def test_truncated_checkpoint_is_refused(saved, tmp_path):
    path, _ = saved
    raw = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(cut)
    assert "truncated or corrupt" in info.value.message
    assert str(cut) in info.value.message
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Session.load(cut, device="cpu")


@pytest.mark.parametrize("keep", [0, 1, 100, 0.25, 0.75, -1])
def test_checkpoint_cut_anywhere_is_refused(saved, tmp_path, keep):
    path, _ = saved
    raw = path.read_bytes()
    n = (
        keep
        if isinstance(keep, int) and keep >= 0
        else (len(raw) - 1 if keep == -1 else int(len(raw) * keep))
    )
    cut = tmp_path / "cut.pt"
    cut.write_bytes(raw[:n])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        checkpoint.load(cut)


def test_garbage_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CheckpointError):
        checkpoint.load(path)


class Payload:
    """An arbitrary object: unpickling it would call ``open(marker, "w")``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class Plain:
    pass


def test_pickled_objects_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(
        {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "payload": Payload(marker)},
        path,
    )
    assert not marker.exists()
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert "refused to load" in info.value.message
    assert "objects other than tensors and plain data" in info.value.message
    assert "weights-only" in info.value.hint
    assert not marker.exists()  # the payload did not run
    with pytest.raises(CheckpointError, match="refused to load"):
        Session.load(path, device="cpu")
    assert not marker.exists()


def test_custom_class_instance_is_refused(tmp_path):
    path = tmp_path / "custom.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "extra": Plain()}, path)
    with pytest.raises(CheckpointError, match="objects other than tensors"):
        checkpoint.load(path)


@pytest.mark.parametrize(
    "obj",
    [
        {"weights": torch.zeros(3)},
        torch.ones(2),
        [1, 2, 3],
        {"format": "something-else", "version": 1},
    ],
)
def test_other_torch_files_are_refused(tmp_path, obj):
    path = tmp_path / "other.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert info.value.message == f"{path} is a torch file but not a torchdeck checkpoint"


def test_other_versions_and_incomplete_files_are_refused(tmp_path):
    path = tmp_path / "v2.pt"
    torch.save({"format": checkpoint.FORMAT, "version": 2}, path)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert info.value.message == (
        f"{path} has checkpoint version 2; this torchdeck reads version 1"
    )
    torch.save({"format": checkpoint.FORMAT, "version": 1, "preset": "gpt"}, path)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert info.value.message == f"{path} lacks model_config, train_config, model, trainer"


def test_weights_that_do_not_fit_are_refused(saved, tmp_path):
    path, _ = saved
    state = checkpoint.load(path)
    state["model"] = {k: v for k, v in state["model"].items() if k != "ln_f.weight"}
    bad = tmp_path / "bad.pt"
    checkpoint.save({k: v for k, v in state.items() if k not in ("format", "version")}, bad)
    with pytest.raises(CheckpointError, match="checkpoint weights do not fit the gpt model"):
        Session.load(bad, device="cpu")


def test_missing_checkpoint_and_empty_folder(tmp_path):
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(tmp_path / "nope.pt")
    assert info.value.message == f"no checkpoint at {tmp_path / 'nope.pt'}"
    # a folder means the checkpoint.pt inside it
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(tmp_path)
    assert info.value.message == f"no checkpoint at {tmp_path / 'checkpoint.pt'}"


def test_resolve_path():
    from pathlib import Path

    assert checkpoint.resolve_path("runs/new") == Path("runs/new/checkpoint.pt")
    assert checkpoint.resolve_path("runs/x.pt") == Path("runs/x.pt")


# -- atomic writes --------------------------------------------------------------------------------


def test_save_leaves_no_temporary_file(saved, tmp_path, make_session, corpus_file):
    path, _ = saved
    assert _files(tmp_path) == ["corpus.txt", "ok.pt"]
    session = make_session("mini", corpus_file, steps=3)
    session.save(path)  # overwrite in place
    assert _files(tmp_path) == ["corpus.txt", "ok.pt"]
    assert checkpoint.load(path)["preset"] == "mini"


def test_failed_save_keeps_the_previous_checkpoint(
    saved, tmp_path, monkeypatch, make_session, corpus_file
):
    path, _ = saved
    before = path.read_bytes()
    session = make_session("mini", corpus_file, steps=3)

    def disk_full(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 half a checkpoint")  # something was written before the failure
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(CheckpointError) as info:
        session.save(path)
    assert info.value.message.startswith(  # the sentence itself: tests/faults/
        f"cannot write the checkpoint {path}: the disk is full (it needs about "
    )
    assert "previous checkpoint is untouched" in info.value.hint
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["corpus.txt", "ok.pt"]  # no temporary file left behind
    monkeypatch.undo()
    assert checkpoint.load(path)["preset"] == "gpt"


def test_save_interrupted_by_another_error_leaves_no_temporary_file(saved, tmp_path, monkeypatch):
    path, _ = saved
    before = path.read_bytes()
    state = checkpoint.load(path)

    def interrupted(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(state, path)
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["corpus.txt", "ok.pt"]


def test_save_to_an_unwritable_place_is_a_checkpoint_error(tmp_path, saved):
    path, _ = saved
    state = checkpoint.load(path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot create the folder"):
        checkpoint.save(state, blocker / "sub" / "c.pt")


def test_refusal_messages_hold_no_terminal_escape_codes(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(
        {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "payload": Payload(marker)},
        path,
    )
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert "\x1b" not in info.value.message
