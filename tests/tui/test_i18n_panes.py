"""The panes, the help screen, the palette and the dialogs in Vietnamese, switched live with F5
on the real app, and English again after a second F5."""

from __future__ import annotations

import pytest

from core import i18n
from tests.tui.conftest import real_app, wait_configured, wait_for

SIZE = (100, 30)


@pytest.fixture
def vietnamese(monkeypatch):
    """English again afterwards, whatever the test did (the engines it starts inherit
    TORCHDECK_LANG)."""
    monkeypatch.setenv(i18n.ENV_VAR, "en")
    yield
    i18n.set_language("en")


def text_of(app, selector: str) -> str:
    return str(app.query_one(selector).render())


async def test_f5_switches_the_panes_and_the_help_live(corpus, vietnamese):
    from tui.commands import system_commands

    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        await wait_for(pilot, lambda: len(app.panes) == 4, 20, "the panes built ahead")
        assert "sample: (appears at each evaluation)" in text_of(app, "#train-sample")

        await pilot.press("f5")
        await wait_for(pilot, lambda: i18n.language() == "vi", 5, "Vietnamese")
        await pilot.pause()
        assert "mẫu: (hiện ra ở mỗi lần đánh giá)" in text_of(app, "#train-sample")
        titles = [c.title for c in system_commands(app, [])]
        assert "Ngôn ngữ" in titles and "Huấn luyện: Tạm dừng/tiếp tục" in titles
        language = next(c for c in system_commands(app, []) if c.title == "Ngôn ngữ")
        assert "F5" in language.help

        await pilot.press("f3")  # the playground's status line and its welcome
        await pilot.pause()
        assert "enter chạy" in text_of(app, "#playground-status")
        welcome = app.panes["playground"].transcript.entries[0]["note"]
        assert welcome.startswith("Dấu nhắc Python")

        await pilot.press("escape", "question_mark")  # the help, drawn in Vietnamese
        await pilot.pause()
        shown = text_of(app.screen, "#help-body Static")
        assert "Ở mọi nơi" in shown and "Khung Huấn luyện" in shown
        assert "Áp dụng thiết lập" in shown  # a pane's key, its tooltip translated

        await pilot.press("f5")  # with the help up: it follows at once
        await wait_for(pilot, lambda: i18n.language() == "en", 5, "English")
        await pilot.pause()
        shown = text_of(app.screen, "#help-body Static")
        assert "Everywhere" in shown and "Train pane" in shown and "Apply config" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert "enter runs · ctrl+t recipes" in text_of(app, "#playground-status")
        assert app.panes["playground"].transcript.entries[0]["note"].startswith("Python prompt")
        assert "sample: (appears at each evaluation)" in text_of(app, "#train-sample")


def test_dialog_texts_and_lines_in_vietnamese(vietnamese):
    from tui.screens.quit_screen import QuitScreen, kept_line, stopped_line

    i18n.set_language("vi")
    screen = QuitScreen("abc123", "running", "bước 3/10", reattach="torchdeck attach abc123")
    screen.others = 2
    text = screen.text()
    assert "Đang huấn luyện trong engine abc123" in text
    assert "2 ứng dụng khác đang gắn vào" in text
    assert "bước 3/10" in kept_line("abc123", "running", 3, 10)
    assert "(1 ứng dụng khác vẫn đang gắn vào)" in stopped_line("abc123", 3, False, 1)
    i18n.set_language("en")
    assert stopped_line("abc123", 3, False, 1) == (
        "torchdeck: stopped the run at step 3 in engine abc123 (1 other app still attached)"
    )
    assert "Training is running in engine abc123" in screen.text()
    assert "2 other apps are attached" in screen.text()
