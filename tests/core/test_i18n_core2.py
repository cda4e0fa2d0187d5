"""The engine's own texts in Vietnamese (issue: languages), produced when they are said: a
playground cell's hint, an explain note, a protocol error, a torchdeck error's words; English
unchanged. Python's own exception text stays as Python prints it."""

from __future__ import annotations

import pytest

from core import i18n
from core.errors import RequestError
from core.protocol import Arg, check_args, decode, type_words


@pytest.fixture
def pg(single_thread):
    from core.playground import Playground

    return Playground()


@pytest.fixture
def vi():
    i18n.set_language("vi")
    yield
    i18n.set_language("en")


NAME_HINT_EN = "names live until the namespace is reset; run the cell that defines it first"
NAME_HINT_VI = (
    "các tên tồn tại cho đến khi không gian tên được đặt lại; hãy chạy trước ô định nghĩa tên đó"
)


def test_a_name_error_gets_its_hint_in_the_language_of_the_moment(pg):
    en = pg.run("undefined_name + 1")["error"]
    assert en["type"] == "NameError" and en["hint"] == NAME_HINT_EN
    i18n.set_language("vi")
    try:
        vi = pg.run("undefined_name + 1")["error"]
    finally:
        i18n.set_language("en")
    assert vi["hint"] == NAME_HINT_VI
    assert vi["message"] == en["message"] == "name 'undefined_name' is not defined"  # Python's
    assert pg.run("undefined_name")["error"]["hint"] == NAME_HINT_EN  # English again


def test_a_matmul_hint_keeps_the_shapes_it_names(pg, vi):
    err = pg.run("a = torch.ones(2, 3)\nb = torch.ones(4, 2)\na @ b")["error"]
    assert err["hint"].startswith("A @ B cần số cột của A bằng số hàng của B: A là 2×3, B là 4×2")
    assert err["hint"].endswith("(ở đây: a là [2, 3], b là [4, 2])")


def test_a_syntax_error_and_a_value_are_described_in_vietnamese(pg, vi):
    assert pg.run("x = (1,")["error"]["hint"] == (
        "hãy kiểm tra dấu ngoặc, dấu hai chấm và thụt lề ở dòng đó"
    )
    header = pg.run("nn.Linear(3, 2)")["value"]["header"]
    assert header == "Linear · 8 tham số (8 huấn luyện được) · cpu"


def test_an_unknown_character_has_a_vietnamese_note(make_session, corpus_file, single_thread):
    from core.contract import ExplainArgs
    from core.explain import explain

    session = make_session("gpt", corpus_file)

    def note() -> str:
        args = ExplainArgs(text="ñ", position=0)
        out = explain(
            session.model, session.tokenizer, "ñ", session.block_size, session.device, args
        )
        return out["neighbours_note"]

    assert note() == "'ñ' is not in the vocabulary: it has no vector to compare"
    i18n.set_language("vi")
    try:
        assert note() == "'ñ' không có trong bộ từ vựng: nó không có vector để so sánh"
    finally:
        i18n.set_language("en")
    assert note() == "'ñ' is not in the vocabulary: it has no vector to compare"


def test_protocol_errors_speak_the_language_of_the_moment(vi):
    with pytest.raises(RequestError) as err:
        decode(b"[1, 2]")
    assert err.value.message == "dòng giao thức không phải một đối tượng JSON"
    assert err.value.hint == "hãy bọc thông điệp trong {...}"
    spec = {"n": Arg(int, required=True)}
    with pytest.raises(RequestError) as err:
        check_args("status", {"m": 1}, spec)
    assert err.value.message == "status: đối số không xác định m"
    assert type_words((int, str)) == "một số nguyên hoặc một chuỗi"
    i18n.set_language("en")
    assert type_words((int, str)) == "an integer or a string"
    with pytest.raises(RequestError) as err:
        check_args("status", {"n": "x"}, spec)
    assert err.value.message == "status: 'n' must be an integer, got 'x'"
