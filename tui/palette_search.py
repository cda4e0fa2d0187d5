"""The command palette's search, blind to Vietnamese marks: "dung" finds "Dừng", "ngon ngu"
finds "Ngôn ngữ". Many people type Vietnamese without its marks when they search; Textual's
fuzzy matcher compares letters as they are. Both sides are folded letter for letter (a
precomposed letter to its base, đ to d), so the places of a match are the places to highlight.
"""

from __future__ import annotations

import unicodedata

from textual.content import Content
from textual.fuzzy import Matcher
from textual.system_commands import SystemCommandsProvider

_BASES = {"đ": "d", "Đ": "D"}


def fold(text: str) -> str:
    """``text`` with each letter's marks dropped, one character for one (same length)."""
    return "".join(_BASES.get(ch) or unicodedata.normalize("NFD", ch)[0] for ch in text)


class FoldingMatcher(Matcher):
    """Textual's fuzzy matcher on folded text; the highlight lands on the text as written."""

    def __init__(self, query: str, **options) -> None:
        super().__init__(fold(unicodedata.normalize("NFC", query)), **options)

    def match(self, candidate: str) -> float:
        return super().match(fold(candidate))

    def highlight(self, candidate: str) -> Content:
        content = Content(candidate)
        score, offsets = self.fuzzy_search.match(self.query, fold(candidate))
        if not score:
            return content
        for offset in offsets:
            if not candidate[offset].isspace():
                content = content.stylize(self.match_style, offset, offset + 1)
        return content


class FoldingCommands(SystemCommandsProvider):
    """The app's commands (``App.get_system_commands``), searched without marks."""

    def matcher(self, user_input: str, case_sensitive: bool = False) -> Matcher:
        return FoldingMatcher(user_input, match_style=self.match_style, case_sensitive=False)
