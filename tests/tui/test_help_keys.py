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


def test_the_help_says_how_to_reach_the_settings_form_leave_a_box_and_open_the_lessons():
    everywhere = help_sections()[0][1]
    text = "\n".join(f"{key} {desc}" for key, desc in everywhere)
    assert "tab / ⇧tab move between a pane's parts: Train's settings form," in text
    assert "escape leave a text box: in one, letters type; out, they act" in text
    assert "L lessons L1–L4, guided" in text
    train = dict(next(rows for title, rows in help_sections() if title.startswith("Train")))
    assert train["a"] == "Apply config" and train["space"] == "Pause/resume"  # long names kept


def test_the_keys_a_text_box_or_the_table_takes_are_in_the_help_too():
    """Enter, the arrows and tab act inside the panes' boxes and table, not as pane bindings:
    the help listed none of them."""
    rows = {title: dict(keys) for title, keys in help_sections()}
    assert rows["Playground pane"]["⏎"].startswith("Run the cell")
    assert rows["Playground pane"]["↑/↓"] == "Recall earlier cells"
    assert rows["Playground pane"]["tab"] == "Complete a name or an attribute"
    assert rows["Predict pane"]["⏎"] == "Append the generated text to yours"
    assert rows["Predict pane"]["←/→"].startswith("Move the cursor")
    assert rows["Summary pane"]["⏎"].startswith("A layer's weight tensors")
