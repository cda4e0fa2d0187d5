"""Corpus loading, refusals with clear messages, the 90/10 split and random batches."""

from __future__ import annotations

import unicodedata

import pytest
import torch

from core.data import DEFAULT_CORPUS, CorpusData, default_corpus_text, load_data, read_corpus
from core.errors import CorpusError, UnknownCharactersError
from core.tokenizer import CharTokenizer

pytestmark = pytest.mark.usefixtures("single_thread")

VIETNAMESE_PARAGRAPH = (
    "Tiếng Việt có dấu: ă â đ ê ô ơ ư. Mô hình ngôn ngữ đoán ký tự tiếp theo.\n" * 5
)


# -- the built-in corpus --------------------------------------------------------------------------


def test_default_corpus_loads_without_a_file_and_splits_90_10():
    data = load_data()
    text, _ = read_corpus(None)
    assert data.source == DEFAULT_CORPUS == "pydoc"
    assert data.n_chars == len(text) > 100_000
    n = len(data.train) + len(data.val)
    assert n == data.n_chars
    assert len(data.val) == int(n * 0.1)
    assert len(data.train) == n - int(n * 0.1)
    assert data.train.dtype == data.val.dtype == torch.long
    # the split is in order: validation is the tail of the text
    assert data.tokenizer.decode(data.val[:50].tolist()) == text[len(data.train) :][:50]
    assert data.tokenizer.decode(data.train[:50].tolist()) == text[:50]
    assert data.info() == {
        "source": "pydoc",
        "chars": n,
        "vocab_size": data.tokenizer.vocab_size,
        "train_chars": len(data.train),
        "val_chars": len(data.val),
    }


@pytest.mark.parametrize("name", [None, "pydoc"])
def test_read_corpus_default_names(name):
    text, source = read_corpus(name)
    assert source == "pydoc"
    assert text == unicodedata.normalize("NFC", default_corpus_text())


# -- text files -----------------------------------------------------------------------------------


def test_utf8_file_loads(tmp_path):
    path = tmp_path / "viet.txt"
    path.write_text(VIETNAMESE_PARAGRAPH, encoding="utf-8")
    data = load_data(path)
    assert data.source == str(path)
    assert data.n_chars == len(VIETNAMESE_PARAGRAPH)
    ids = torch.cat([data.train, data.val]).tolist()
    assert data.tokenizer.decode(ids) == VIETNAMESE_PARAGRAPH
    assert len(data.val) == int(len(VIETNAMESE_PARAGRAPH) * 0.1)
    assert data.tokenizer.vocab_size == len(set(VIETNAMESE_PARAGRAPH))


def test_decomposed_file_is_normalised_and_bom_dropped(tmp_path):
    path = tmp_path / "nfd.txt"
    path.write_bytes(
        b"\xef\xbb\xbf" + unicodedata.normalize("NFD", VIETNAMESE_PARAGRAPH).encode("utf-8")
    )
    text, source = read_corpus(path)
    assert source == str(path)
    assert text == VIETNAMESE_PARAGRAPH  # NFC, without the byte-order mark


def test_load_with_a_saved_tokenizer_reuses_its_vocabulary(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("abcabcabcabcabcabcabcabc", encoding="utf-8")
    tok = CharTokenizer(list("xcba"))  # a different order than from_text would give
    data = load_data(path, tok)
    assert data.tokenizer is tok
    assert data.train[:3].tolist() == [3, 2, 1]


def test_load_with_a_saved_tokenizer_reports_characters_it_lacks(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("abcabcabcabcabcabcabcabcd", encoding="utf-8")
    with pytest.raises(UnknownCharactersError, match="'d' at 24"):
        load_data(path, CharTokenizer(list("abc")))


# -- refusals -------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(CorpusError) as info:
        load_data(path)
    assert info.value.message == f"corpus file not found: {path}"
    assert "--corpus" in info.value.hint


def test_directory(tmp_path):
    with pytest.raises(CorpusError) as info:
        load_data(tmp_path)
    assert info.value.message == f"corpus path is a directory: {tmp_path}"
    assert "one UTF-8 text file" in info.value.hint


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \r\n"], ids=["empty", "whitespace"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as info:
        load_data(path)
    assert info.value.message == f"corpus file is empty: {path}"


def test_binary_file_gives_the_nul_offset(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"some text at first, then\x00\x01\x02 binary" * 3)
    with pytest.raises(CorpusError) as info:
        load_data(path)
    assert info.value.message == f"corpus file looks binary (a NUL byte at offset 24): {path}"
    assert "not a binary or UTF-16 file" in info.value.hint


def test_utf16_file_is_refused_as_binary(tmp_path):
    path = tmp_path / "utf16.txt"
    path.write_bytes("hello world, this is UTF-16".encode("utf-16-le"))
    with pytest.raises(CorpusError, match=r"NUL byte at offset 1\b"):
        load_data(path)


def test_non_utf8_file_gives_the_byte_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    text = "un café au lait, s'il vous plaît, merci beaucoup"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(CorpusError) as info:
        load_data(path)
    offset = text.index("é")
    assert offset == 6
    assert info.value.message == f"corpus file is not UTF-8: byte 0xe9 at offset 6: {path}"
    assert "iconv" in info.value.hint


def test_text_under_twenty_characters_is_refused(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("too short", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_data(path)
    assert info.value.message == f"corpus has only 9 characters: {path}"


def test_check_block_size_refuses_text_too_short_for_the_context(tmp_path):
    path = tmp_path / "hundred.txt"
    path.write_text("abcdefghij" * 10, encoding="utf-8")
    data = load_data(path)
    assert (len(data.train), len(data.val)) == (90, 10)
    data.check_block_size(9)  # needs 10 in each split: fits exactly
    with pytest.raises(CorpusError) as info:
        data.check_block_size(10)
    assert info.value.message == (
        "corpus too short for context length 10: the validation split "
        "has 10 characters and needs at least 11"
    )
    assert "at least 111 characters for context 10" in info.value.hint


def test_session_refuses_a_corpus_shorter_than_the_context(tmp_path, make_session):
    path = tmp_path / "hundred.txt"
    path.write_text("abcdefghij" * 10, encoding="utf-8")
    with pytest.raises(CorpusError, match="corpus too short for context length 16"):
        make_session("gpt", path)


# -- batches --------------------------------------------------------------------------------------


def _counting_data(n_train: int = 100, n_val: int = 30) -> CorpusData:
    """Ids equal to their positions, so a window's start can be read off its first id."""
    tok = CharTokenizer([chr(0x100 + i) for i in range(n_train + n_val)])
    return CorpusData(
        tok,
        torch.arange(n_train),
        torch.arange(n_train, n_train + n_val),
        "counting",
        n_train + n_val,
    )


def test_get_batch_shapes_and_shift():
    data = _counting_data()
    x, y = data.get_batch("train", 5, 7, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 7)
    assert x.dtype == y.dtype == torch.long
    assert torch.equal(y, x + 1)  # y is x shifted one character to the right
    # each row is a contiguous window of the data
    assert torch.equal(x, x[:, :1] + torch.arange(7))
    assert int(x.min()) >= 0 and int(y.max()) <= 99


def test_get_batch_val_uses_the_validation_split():
    data = _counting_data()
    x, y = data.get_batch("val", 64, 4, torch.Generator().manual_seed(1))
    assert int(x.min()) >= 100 and int(y.max()) <= 129
    assert torch.equal(y[:, :-1], x[:, 1:])


def test_get_batch_covers_every_window_and_no_more():
    data = _counting_data(n_train=12)
    x, _ = data.get_batch("train", 2000, 4, torch.Generator().manual_seed(2))
    # windows of 4 + 1 ids over 12: starts 0..7, all of them drawn
    assert sorted(set(x[:, 0].tolist())) == list(range(8))


def test_get_batch_with_exactly_one_window():
    data = _counting_data(n_train=9)
    x, y = data.get_batch("train", 3, 8, torch.Generator().manual_seed(3))
    assert x.tolist() == [list(range(8))] * 3
    assert y.tolist() == [list(range(1, 9))] * 3


def test_get_batch_is_deterministic_with_the_same_seeded_generator(corpus_file):
    data = load_data(corpus_file)
    g1, g2 = torch.Generator().manual_seed(42), torch.Generator().manual_seed(42)
    first = [data.get_batch("train", 4, 8, g1) for _ in range(3)]
    second = [data.get_batch("train", 4, 8, g2) for _ in range(3)]
    for (x1, y1), (x2, y2) in zip(first, second):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    # the generator advances: consecutive batches differ
    assert not torch.equal(first[0][0], first[1][0])
    # another seed gives other windows
    x3, _ = data.get_batch("train", 4, 8, torch.Generator().manual_seed(43))
    assert not torch.equal(first[0][0], x3)
