"""Every pane and the help screen in Vietnamese at 80×24: snapshots with the fixed data of the
English ones (tests/tui/test_sizes_snapshots.py), no row running a word into the right edge, and
every Vietnamese letter one cell wide and precomposed."""

from __future__ import annotations

import unicodedata

import pytest
from rich.cells import cell_len

from core import i18n
from tests.tui.conftest import screen_lines
from tests.tui.test_sizes_snapshots import NARROW, PANES, cut_rows, pane_setup


@pytest.fixture
def vietnamese():
    i18n.set_language("vi")
    yield
    i18n.set_language("en")


@pytest.fixture(scope="module")
def canned(tmp_path_factory):
    from tests.tui.test_summary_pane import canned_replies

    return canned_replies(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("name", PANES)
def test_snapshot_in_vietnamese_at_80x24(snap_compare, canned, tmp_path, name, vietnamese):
    app, run_before = pane_setup(name, canned, tmp_path)
    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


@pytest.mark.parametrize("name", PANES)
async def test_nothing_cut_in_vietnamese_at_80x24(canned, tmp_path, name, vietnamese):
    app, run_before = pane_setup(name, canned, tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await run_before(pilot)
        lines = screen_lines(app)
        assert len(lines) == 24 and all(cell_len(line) == 80 for line in lines)
        assert cut_rows(app) == []
        text = "\n".join(lines)
        assert unicodedata.normalize("NFC", text) == text
        assert any(ch in text for ch in "ăâêôơưđ")  # Vietnamese is on the screen
