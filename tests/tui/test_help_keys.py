"""The help screen names keys as a person reads them: Textual's key names (plus, equals_sign,
left_square_bracket) broke its columns at 80 columns."""

from __future__ import annotations

from tui.commands import help_sections, key_display


def test_key_names_read_as_keys():
    assert key_display("plus,equals_sign,up") == "+ / = / ↑"
    assert key_display("left_square_bracket") == "["
    assert key_display("g,ctrl+g") == "g / ^g"
    assert key_display("x,escape") == "x / esc"
    assert key_display("ctrl+shift+s") == "shift+^s"


def test_every_key_of_the_help_fits_its_column():
    sections = help_sections()
    keys = [key for _title, rows in sections for key, _desc in rows]
    summary = dict(next(rows for title, rows in sections if title.startswith("Summary")))
    assert "+ / =" in summary  # Deeper: was "plus,equals_sign"
    assert all(len(key) <= 14 for key in keys)  # the help screen's key column
    assert not [key for key in keys if "_" in key]
