"""CharTokenizer: round trips, NFC normalisation, unknown characters, saving, bad ids."""

from __future__ import annotations

import unicodedata

import pytest

from core.errors import TorchdeckError, UnknownCharactersError
from core.tokenizer import CharTokenizer, normalize

pytestmark = pytest.mark.usefixtures("single_thread")

VIETNAMESE = "Tiếng Việt có dấu: ă â đ ê ô ơ ư"
EMOJI = "hi 🙂 ok 🚀🐍!"


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world! 0123456789\n\tdef f(x): return x",
        VIETNAMESE,
        EMOJI,
        "mixed: ắ ằ ẳ ẵ ặ · 🙂 · tab\tend",
    ],
    ids=["ascii", "vietnamese", "emoji", "mixed"],
)
def test_round_trip(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert len(ids) == len(text)  # one id per (NFC) character: the inputs are NFC already
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)


def test_vocabulary_is_the_sorted_distinct_characters():
    tok = CharTokenizer.from_text("banana")
    assert tok.chars == ["a", "b", "n"]
    assert tok.vocab_size == 3
    assert tok.encode("banana") == [1, 0, 2, 0, 2, 0]
    assert tok.stoi == {"a": 0, "b": 1, "n": 2}


def test_vietnamese_letters_are_single_precomposed_ids():
    tok = CharTokenizer.from_text(VIETNAMESE)
    # each accented letter is one character of the vocabulary, not a base plus combining marks
    for letter in "ếệóấăâđêôơư":
        assert letter in tok.chars
        assert len(tok.encode(letter)) == 1
    assert not any(unicodedata.combining(ch) for ch in tok.chars)


def test_emoji_is_one_id_per_code_point():
    tok = CharTokenizer.from_text(EMOJI)
    assert len(tok.encode("🙂")) == 1
    assert tok.decode(tok.encode("🚀🐍")) == "🚀🐍"
    assert tok.vocab_size == len(set(EMOJI))


def test_decomposed_input_maps_to_the_precomposed_id():
    tok = CharTokenizer.from_text("café")  # precomposed é (U+00E9)
    assert tok.encode("e\u0301") == tok.encode("\u00e9")
    assert len(tok.encode("e\u0301")) == 1
    assert tok.encode("cafe\u0301") == tok.encode("café")


def test_decomposed_training_text_builds_a_precomposed_vocabulary():
    nfd = unicodedata.normalize("NFD", VIETNAMESE)
    assert nfd != VIETNAMESE  # the test really feeds combining marks
    tok = CharTokenizer.from_text(nfd)
    assert tok.chars == CharTokenizer.from_text(VIETNAMESE).chars
    # typed either way, the text encodes to the same ids and decodes to the NFC form
    assert tok.encode(nfd) == tok.encode(VIETNAMESE)
    assert tok.decode(tok.encode(nfd)) == VIETNAMESE
    assert normalize(nfd) == VIETNAMESE


def test_encode_report_lists_unknown_characters_with_positions():
    tok = CharTokenizer.from_text("abc")
    enc = tok.encode_report("abXcY")
    assert enc.ids == [0, 1, 2]
    assert enc.unknown == [(2, "X"), (4, "Y")]
    assert enc.text == "abXcY"


def test_encode_report_positions_refer_to_the_normalised_text():
    tok = CharTokenizer.from_text("abc")
    # "e" + combining acute is one character after NFC, so "b" sits at position 1, "Z" at 2
    enc = tok.encode_report("e\u0301bZ")
    assert enc.text == "\u00e9bZ"
    assert enc.unknown == [(0, "\u00e9"), (2, "Z")]
    assert enc.ids == [1]


def test_encode_raises_on_unknown_characters_and_names_them():
    tok = CharTokenizer.from_text("hello world")
    with pytest.raises(UnknownCharactersError) as info:
        tok.encode("hello, wörld")
    err = info.value
    assert err.unknown == [(5, ","), (8, "ö")]
    assert "2 character(s) not in the vocabulary" in err.message
    assert "',' at 5" in err.message
    assert "'ö' at 8" in err.message
    assert "vocabulary comes from the training corpus" in err.hint
    assert isinstance(err, ValueError)  # callers may catch it as a ValueError


def test_unknown_characters_message_is_capped_at_eight():
    tok = CharTokenizer.from_text("a")
    with pytest.raises(UnknownCharactersError) as info:
        tok.encode("a0123456789")
    assert len(info.value.unknown) == 10
    assert "10 character(s)" in info.value.message
    assert "'7' at 8" in info.value.message
    assert "'8' at 9" not in info.value.message
    assert "and 2 more" in info.value.message


def test_to_dict_from_dict_round_trip():
    tok = CharTokenizer.from_text(VIETNAMESE + EMOJI)
    data = tok.to_dict()
    assert data == {"kind": "char", "chars": "".join(tok.chars)}
    back = CharTokenizer.from_dict(data)
    assert back.chars == tok.chars
    assert back.encode(VIETNAMESE + EMOJI) == tok.encode(VIETNAMESE + EMOJI)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "abc",
        {"kind": "bpe", "chars": "abc"},
        {"kind": "char"},
        {"kind": "char", "chars": ["a", "b"]},
    ],
)
def test_from_dict_refuses_other_data(data):
    with pytest.raises(TorchdeckError, match="not a saved char tokenizer"):
        CharTokenizer.from_dict(data)


def test_from_dict_refuses_repeated_characters():
    with pytest.raises(TorchdeckError, match="repeated characters"):
        CharTokenizer.from_dict({"kind": "char", "chars": "abca"})


@pytest.mark.parametrize("ids, shown", [([-1], "[-1]"), ([0, 3], "[3]"), ([7, 1, 99], "[7, 99]")])
def test_decode_refuses_ids_outside_the_vocabulary(ids, shown):
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(TorchdeckError) as info:
        tok.decode(ids)
    assert info.value.message == f"token id(s) {shown} outside the vocabulary of 3"
    assert info.value.hint == "ids run from 0 to 2"


def test_decode_of_nothing_is_empty():
    assert CharTokenizer.from_text("abc").decode([]) == ""


@pytest.mark.parametrize(
    "chars, message",
    [
        ([], "empty vocabulary"),
        (["a", "b", "a"], "vocabulary has repeated characters"),
        (["a", "bc"], "vocabulary entry 'bc' is not one character"),
    ],
)
def test_constructor_refuses_bad_vocabularies(chars, message):
    with pytest.raises(TorchdeckError) as info:
        CharTokenizer(chars)
    assert info.value.message == message
