"""The explain op's window and position (core/explain.py): the attention of only the positions
a view can show, and the character asked counted in the text as a text box holds it (unknown
characters and those before the context included, accents typed apart joined)."""

from __future__ import annotations

import numpy as np
import pytest

from core.contract import ExplainArgs
from core.errors import RequestError
from tests.core.explain_helpers import TEXT, _explain

pytestmark = pytest.mark.usefixtures("single_thread")


def test_a_window_sends_the_last_positions_of_each_map(gpt):
    full = _explain(gpt)
    out = _explain(gpt, window=5)  # the last 5 of 14: queries and keys from 9 on
    assert out["offset"] == 9 and np.array(out["attention"]).shape == (2, 2, 5, 5)
    assert out["attention"] == np.array(full["attention"])[..., 9:, 9:].tolist()
    assert out["chars"] == full["chars"] and out["lens"] == full["lens"]  # the rest is whole
    assert out["attribution"] == full["attribution"]
    wide = _explain(gpt, window=64)
    assert wide["offset"] == 0 and wide["attention"] == full["attention"]
    assert full["offset"] == 0
    with pytest.raises(RequestError) as info:
        ExplainArgs.from_args("explain", {"text": TEXT, "window": 0})
    assert info.value.message == "explain: 'window' = 0 is out of range"
    assert info.value.hint == "'window' must be ≥ 1"


def test_the_position_is_counted_in_the_text_as_typed(gpt):
    """A text box's index: the unknown ñ and the characters before the last block_size (16)
    are counted, though not fed; the reply says where among the fed ones the character is."""
    text = "ñthe cat sat on the mat. the cat"  # 32 characters, 31 known: 15 cut, 16 fed
    last = _explain(gpt, text=text)
    assert last["position"] == 15 and last["neighbours_of"]["char"] == "t"
    m = _explain(gpt, text=text, position=text.index("mat"))  # 20: after ñ and 19 known ones
    assert m["position"] == 19 - 15 and m["chars"][4] == "m"  # 15 known ones cut
    assert m["neighbours_of"]["char"] == "m"
    cut = _explain(gpt, text=text, position=2)  # the h: known, but before what is fed
    assert cut["position"] is None and cut["neighbours_of"]["char"] == "h"
    unknown = _explain(gpt, text=text, position=0)
    assert unknown["position"] is None and unknown["neighbours"] == []
    assert unknown["neighbours_note"] == "'ñ' is not in the vocabulary: it has no vector to compare"
    assert unknown["attention"] == last["attention"]  # the same text is fed either way


def test_an_accent_typed_apart_is_the_character_it_makes(gpt):
    """NFC: 'e' then U+0301 is 'é', one character; a position on either part asks for it."""
    text = "the cate\u0301"
    ends = _explain(gpt, text=text, position=len(text) - 1)
    parts = _explain(gpt, text=text, position=len(text) - 2)
    assert "é" not in gpt.tokenizer.stoi
    for out in (ends, parts):
        assert out["neighbours_note"] == "'é' is not in the vocabulary: it has no vector to compare"
    t = _explain(gpt, text=text, position=6)
    assert t["neighbours_of"]["char"] == "t" and t["position"] == 6
