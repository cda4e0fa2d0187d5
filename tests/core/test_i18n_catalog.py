"""The Vietnamese catalog is whole: every marked text of the code translated, nothing fuzzy,
the same placeholders, no text the code lost, and the compiled file what its source says."""

from __future__ import annotations

import gettext
import unicodedata

import pytest

pytest.importorskip("babel")

from core import i18n_catalog  # noqa: E402
from core.i18n import LOCALE_DIR  # noqa: E402


def test_the_vietnamese_catalog_matches_the_code():
    assert i18n_catalog.problems("vi") == []


def test_the_compiled_catalog_is_its_source_compiled():
    source = i18n_catalog.read("vi")
    with open(LOCALE_DIR / "vi" / "LC_MESSAGES" / "torchdeck.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in source:
        if not message.id:
            continue
        if message.context:
            assert compiled.pgettext(message.context, message.id) == message.string, message.id
        elif isinstance(message.id, tuple):
            assert compiled.ngettext(*message.id, 1) == message.string[0], message.id
        else:
            assert compiled.gettext(message.id) == message.string, message.id


def test_vietnamese_text_is_precomposed():
    for message in i18n_catalog.read("vi"):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert unicodedata.normalize("NFC", text) == text, text


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("{a} and {b:.2f}", ["a", "b"]),
        ("{b!r} then {a}", ["a", "b"]),
        ("no fields, {{braces}}", []),
        ("{broken", ["<unparsable: expected '}' before end of string>"]),
    ],
)
def test_fields_are_compared_by_name(text, fields):
    assert i18n_catalog.fields(text) == fields


def test_unmarkable_calls_and_a_hidden_translator_are_found(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n_catalog, "ROOT", tmp_path)
    src = tmp_path / "m.py"
    src.write_text(
        "from core.i18n import _, N_\n"
        "x = 3\n"
        "a = _(f'loss {x}')\n"
        "b = N_('fine')\n"
        "for _ in range(2):\n"
        "    pass\n"
        "c = _('fine too')\n"
        "d = _(b)\n"
        "e = _('a' + 'b')\n"
        "f = N_(b)\n"
        "g = f'{_(\"hidden\")} there'\n",
        encoding="utf-8",
    )
    assert i18n_catalog.unmarkable(src) == [
        "m.py:3: _(...)",
        "m.py:5: _ assigned",
        "m.py:9: _(...)",
        "m.py:10: N_(...)",
        "m.py:11: inside an f-string",
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("usage: %(prog)s [-h]", ["prog:s"]),
        ("expected %s argument, got %d", [":d", ":s"]),
        ("100%% sure", []),
        ("%(value)r is not %(kind)s", ["kind:s", "value:r"]),
    ],
)
def test_percent_fields_are_compared_too(text, found):
    assert i18n_catalog.percent_fields(text) == found
