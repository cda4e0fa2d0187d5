"""The metrics column's rows drawn as lines of text look exactly as Rich's two-column grid
draws them (dim labels, each value padded to the widest in its own style), and a value too
wide for the column still wraps as the grid wraps it."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tui.widgets.train_metrics import _grid

WIDTH = 19  # the column's cells at 80×24, less its padding


def grid_table(rows, label_width: int) -> Table:
    """Rich's grid, as the column drew every report before: the table ``_grid`` falls back to
    where a value does not fit (a width of 1 fits nothing)."""
    table = _grid(rows, label_width, 1)
    assert isinstance(table, Table)
    return table


def drawn(renderable) -> list[list[tuple[str, str]]]:
    """Each line's runs of text with their style (equal styles merged, no style as none)."""
    console = Console(width=WIDTH, color_system="truecolor")
    out = []
    for line in console.render_lines(renderable, console.options, pad=False):
        runs: list[tuple[str, str]] = []
        for seg in line:
            style = str(seg.style or "none")
            if runs and runs[-1][1] == style:
                runs[-1] = (runs[-1][0] + seg.text, style)
            else:
                runs.append((seg.text, style))
        out.append(runs)
    return out


@pytest.mark.parametrize(
    "rows",
    [
        [("step", "1200/2000"), ("loss", "1.3655"), ("val", "--"), ("tok/s", "19.9k")],
        [
            ("", "all 2 ranks"),
            ("rank ms", Text.assemble("12.0", " · ", ("15.5", "bold red"))),
            ("slow", Text("rank 1 1.3×", style="bold red")),
        ],
        [("x", "-0.9200"), ("f(x)", "7.3792"), ("x.grad", "-8.0000")],
    ],
)
def test_lines_look_as_the_grid_does(rows):
    label_width = max(len(label) for label, _ in rows)
    lines = _grid(rows, label_width, WIDTH)
    assert isinstance(lines, Text)
    assert drawn(lines) == drawn(grid_table(rows, label_width))
    assert drawn(lines)[0][0] == (rows[0][0].ljust(label_width + 1), "dim")


def test_a_value_too_wide_wraps_as_in_the_grid():
    rows = [("step", "1200/2000"), ("note", "a value of many words")]
    shown = _grid(rows, 4, WIDTH)
    assert isinstance(shown, Table)
    assert ["".join(text for text, _ in line).rstrip() for line in drawn(shown)] == [
        "step 1200/2000",
        "note a value of",
        "     many words",
    ]
