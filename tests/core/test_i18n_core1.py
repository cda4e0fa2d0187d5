"""The engine's errors in Vietnamese (area core1): a hyper-parameter out of range, a corpus that
cannot be read, a checkpoint that cannot be loaded. Each message is translated when the error is
made, in the language of that moment (the rules' words were made at import, in English), and in
English nothing changes. The catalog is the shipped one."""

from __future__ import annotations

import json

import pytest

from core import checkpoint, i18n
from core.contract import ConfigureArgs, TrainSettings, parse_text
from core.contract.settings import BLOCK_SIZE, LR, STEPS
from core.data import load_data
from core.engine import Engine
from core.errors import (
    CheckpointError,
    ConfigError,
    CorpusError,
    ProtocolMismatch,
    RequestError,
    UnknownCharactersError,
)
from core.models import make_config
from core.protocol import Request
from tests.core.test_link_ops import Recorder


@pytest.fixture
def vi(monkeypatch):
    """Speak Vietnamese; English again afterwards."""
    i18n.set_language("vi")
    yield
    i18n.set_language("en")


# -- a hyper-parameter out of range ----------------------------------------------------------------


def test_an_lr_out_of_range_is_refused_in_vietnamese(vi):
    with pytest.raises(ConfigError) as err:
        TrainSettings(lr=20.0).validate()
    assert err.value.message == "lr = 20.0 nằm ngoài khoảng cho phép"
    assert err.value.hint == "lr phải là số trong (0, 10], ví dụ 0.001"
    # the engine's check of a request: the rule's words are said in Vietnamese
    with pytest.raises(RequestError) as err:
        ConfigureArgs.from_args("configure", {"preset": "mini", "lr": 20})
    assert err.value.hint.endswith("số trong (0, 10], ví dụ 0.001")
    # the form and the command line say the same
    assert parse_text(LR, "20") == (None, "20 ngoài khoảng: cần số trong (0, 10], ví dụ 0.001")
    assert parse_text(STEPS, "x") == (None, "'x' không phải số nguyên ≥ 1")
    assert parse_text(BLOCK_SIZE, "")[1] == "trống: cần số nguyên ≥ 1 (độ dài ngữ cảnh)"


def test_the_rules_words_follow_a_switch_and_stay_english_as_data(vi):
    assert str(LR.expect) == "số trong (0, 10], ví dụ 0.001"
    assert f"{STEPS.expect}" == "số nguyên ≥ 1"
    assert LR.expect == "a number in (0, 10], e.g. 0.001"  # what code compares, and JSON writes
    assert json.dumps(LR.expect) == '"a number in (0, 10], e.g. 0.001"'
    i18n.set_language("en")
    assert str(LR.expect) == "a number in (0, 10], e.g. 0.001"
    assert parse_text(LR, "20")[1] == "20 is out of range: want a number in (0, 10], e.g. 0.001"


def test_a_model_that_cannot_be_built_is_refused_in_vietnamese(vi):
    with pytest.raises(ConfigError) as err:
        make_config("gpt", n_embd=30, n_head=4)
    assert err.value.message == "n_embd (30) phải chia hết cho n_head (4)"
    assert err.value.hint == "hãy chọn độ rộng là bội số của số head"


def test_in_english_the_same_refusals_are_unchanged():
    with pytest.raises(ConfigError) as err:
        TrainSettings(lr=20.0).validate()
    assert str(err.value) == (
        "lr = 20.0 is out of range (lr must be a number in (0, 10], e.g. 0.001)"
    )
    with pytest.raises(RequestError) as err:
        ConfigureArgs.from_args("configure", {"preset": "mini", "lr": 20})
    assert err.value.hint == "'lr' must be a number in (0, 10], e.g. 0.001"


# -- a corpus that cannot be read ------------------------------------------------------------------


def test_an_empty_or_binary_corpus_is_refused_in_vietnamese(vi, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_data(empty)
    assert err.value.message == f"tệp corpus trống: {empty}"
    assert err.value.hint == "hãy đưa một tệp có chứa văn bản"
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"hello\x00world" * 4)
    with pytest.raises(CorpusError) as err:
        load_data(binary)
    assert err.value.message == f"tệp corpus có vẻ là tệp nhị phân (byte NUL ở vị trí 5): {binary}"
    assert (
        err.value.hint == "hãy đưa một tệp văn bản UTF-8 thuần, không phải tệp nhị phân hay UTF-16"
    )
    with pytest.raises(CorpusError) as err:
        load_data(tmp_path)
    assert err.value.message == f"đường dẫn corpus là một thư mục: {tmp_path}"


def test_in_english_an_empty_or_binary_corpus_is_unchanged(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_data(empty)
    assert str(err.value) == f"corpus file is empty: {empty} (give a file with some text in it)"
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"hello\x00world")
    with pytest.raises(CorpusError) as err:
        load_data(binary)
    assert err.value.message == f"corpus file looks binary (a NUL byte at offset 5): {binary}"


def test_characters_outside_the_vocabulary_are_named_in_vietnamese(vi):
    err = UnknownCharactersError([(3, "é"), (9, "ß")])
    assert err.message == "2 ký tự không có trong bộ từ vựng: 'é' ở vị trí 3, 'ß' ở vị trí 9"
    assert err.hint.startswith("bộ từ vựng lấy từ corpus huấn luyện")


# -- a checkpoint that cannot be loaded ------------------------------------------------------------


def test_a_corrupt_checkpoint_is_refused_in_vietnamese(vi, tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip file, cut short")
    with pytest.raises(CheckpointError) as err:
        checkpoint.load(path)
    assert err.value.message.startswith(
        f"{path} không phải checkpoint đọc được (bị cắt cụt hoặc hỏng: "
    )
    assert err.value.hint.startswith("hãy dùng checkpoint khác, hoặc huấn luyện lại")
    with pytest.raises(CheckpointError) as err:
        checkpoint.load(tmp_path / "nowhere" / "checkpoint.pt")
    assert (
        err.value.message == f"không có checkpoint nào tại {tmp_path / 'nowhere' / 'checkpoint.pt'}"
    )


def test_in_english_a_corrupt_checkpoint_is_unchanged(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip file, cut short")
    with pytest.raises(CheckpointError) as err:
        checkpoint.load(path)
    assert err.value.message.startswith(
        f"{path} is not a readable checkpoint (truncated or corrupt"
    )
    assert err.value.hint == (
        "use another checkpoint, or train again; a file cut short by a crash or a full disk "
        "cannot be repaired"
    )


def test_a_protocol_mismatch_names_the_side_in_vietnamese(vi):
    err = ProtocolMismatch(1, 3, ", box")
    assert err.message == "engine dùng giao thức 1 còn torchdeck này dùng 3: engine cũ hơn"
    assert err.hint.startswith("hãy nâng cấp torchdeck trên máy của engine, box")
    i18n.set_language("en")
    assert ProtocolMismatch(1, 3, ", box").hint.startswith(
        "upgrade torchdeck on the engine's machine, box (the same version"
    )


# -- the engine speaks its client's language -------------------------------------------------------


def test_the_engine_refuses_in_the_language_its_client_asked_for(vi, tmp_path):
    i18n.set_language("en")  # the engine starts in English; its client asks for Vietnamese
    eng = Engine(None)
    me = Recorder(2)
    eng.add_client(me)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    corrupt = tmp_path / "bad.pt"
    corrupt.write_bytes(b"garbage")

    def ask(req_id: int, op: str, **args) -> dict:
        me.lines.clear()
        eng._handle(("req", Request(req_id, op, args), None, me))
        return next(m for m in me.lines if m.get("id") == req_id)

    try:
        assert ask(1, "language", lang="vi")["ok"]
        error = ask(2, "configure", preset="mini", corpus=str(empty), device="cpu")["error"]
        assert (error["type"], error["message"]) == ("CorpusError", f"tệp corpus trống: {empty}")
        error = ask(3, "load", path=str(corrupt))["error"]
        assert error["message"].startswith(f"{corrupt} không phải checkpoint đọc được")
        error = ask(4, "train_start")["error"]
        assert error["message"] == "chưa có mô hình nào được cấu hình"
        assert ask(5, "language", lang="en")["ok"]
        error = ask(6, "train_start")["error"]
        assert error["message"] == "no model is configured yet"
    finally:
        eng.remove_client(me)
