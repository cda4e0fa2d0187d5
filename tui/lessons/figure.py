"""A lesson step's live figure, said in the language of the moment it is shown.

A step's live figure is made when the panel checks the step and kept ("was …") once the step is
done, also between sessions (tui.lessons.saved): it has to follow a switch of language after it
was made. As a ``str`` a :class:`Figure` is its English text, what the panel compares to tell
fresh evidence from a figure already on screen; ``str()`` and an f-string say it in the language
of that moment. Its ``template`` (a text marked with ``N_``) and ``values`` are what is saved.
"""

from __future__ import annotations

from core import i18n
from core.i18n import Words


class Figure(Words):
    """A live figure: :class:`core.i18n.Words`, its ``template`` and ``values`` saved."""


def english(text: object) -> str | None:
    """The language-free form of a live figure (its English), what the panel compares."""
    if text is None:
        return None
    return str.__str__(text) if isinstance(text, str) else str(text)


def said(text: str) -> str:
    """A lesson's text in the language of the moment: a :class:`Figure` says itself, any other
    text is looked up (a title or a step marked with ``N_``; a figure saved as plain text stays
    as it was)."""
    return str(text) if isinstance(text, Figure) else i18n._(text)
