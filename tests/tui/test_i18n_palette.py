"""The command palette in Vietnamese: its search box and every command, Textual's own
(theme, keys, screenshot...) included."""

from __future__ import annotations

from textual.command import CommandInput, CommandPalette

from core import i18n
from tests.tui.test_snapshots import fake_app, feed


async def test_the_palette_speaks_the_language_of_the_moment():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        english = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Theme", "Screenshot", "Quit", "Show Predict", "Language"} <= set(english)
        i18n.set_language("vi")
        vietnamese = [c.title for c in app.get_system_commands(app.screen)]
        assert len(vietnamese) == len(english)
        assert {"Giao diện màu", "Chụp màn hình", "Thoát", "Ngôn ngữ"} <= set(vietnamese)
        assert not {"Theme", "Screenshot", "Quit", "Keys", "Language"} & set(vietnamese)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert CommandPalette.is_open(app)
        assert app.screen.query_one(CommandInput).placeholder == "Tìm lệnh…"
        await pilot.press("escape")
        i18n.set_language("en")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.query_one(CommandInput).placeholder == "Search for commands…"
