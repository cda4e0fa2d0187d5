"""The command palette in Vietnamese: its search box and every command, Textual's own
(theme, keys, screenshot...) included."""

from __future__ import annotations

from textual.command import CommandInput, CommandList, CommandPalette

from core import i18n
from tests.tui.test_snapshots import fake_app, feed
from tui.palette_search import fold


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


async def test_an_open_palette_follows_f5():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)

        def shown() -> str:
            options = app.screen.query_one(CommandList)
            return "\n".join(
                str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
            )

        assert "Show Predict" in shown() and "Ngôn ngữ" not in shown()
        await pilot.press("f5")
        await pilot.pause(0.3)
        assert app.screen.query_one(CommandInput).placeholder == "Tìm lệnh…"
        assert "Show Predict" not in shown() and "Ngôn ngữ" in shown()
        await pilot.press("f5")
        await pilot.pause(0.3)
        assert "Show Predict" in shown()


def test_fold_drops_the_marks_letter_for_letter():
    assert fold("Ngôn ngữ: Dừng, đóng") == "Ngon ngu: Dung, dong"
    assert fold("tok/s ‖grad‖ ✓") == "tok/s ‖grad‖ ✓"
    text = "Huấn luyện: Tạm dừng/tiếp tục"
    assert len(fold(text)) == len(text)


async def test_the_palette_finds_vietnamese_typed_without_marks():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        i18n.set_language("vi")
        await pilot.press("ctrl+p", *"ngon ngu")
        await pilot.pause(0.5)
        options = app.screen.query_one(CommandList)
        first = options.get_option_at_index(0).prompt
        assert str(first).startswith("Ngôn ngữ")
        matched = [s for s in first.spans if s.start < len("Ngôn ngữ")]
        assert matched  # the letters matched are highlighted where they are written
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert i18n.language() == "en"  # the command ran: Vietnamese to English


async def test_f5_with_an_unreadable_catalog_says_why_and_keeps_english(tmp_path, monkeypatch):
    folder = tmp_path / "vi" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "torchdeck.mo").write_bytes(b"")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_catalogs", {})
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        await pilot.press("f5")
        await pilot.pause(0.2)
        assert i18n.language() == "en" and app.is_running
        said = [n.message for n in app._notifications]
        assert any("the Tiếng Việt texts cannot be read" in m for m in said), said
        assert any("reinstall torchdeck" in m for m in said)
