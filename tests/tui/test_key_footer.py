"""The key line at the foot of the screen, and what a pane switch restyles: the line follows the
focus without rebuilding widgets, a click presses a key, and a pane's focus restyles the pane
alone (no rule in the stylesheet styles a pane's contents by the pane's focus)."""

from __future__ import annotations

from textual.css.model import CombinatorType, SelectorType

from tests.tui.conftest import wait_for
from tests.tui.test_snapshots import INFO, fake_app
from tui.app import TorchdeckApp
from tui.panes.base import Pane
from tui.widgets.key_footer import DIVIDER, KeyFooter
from tui.widgets.status_bar import StatusBar


async def ready(pilot) -> TorchdeckApp:
    app = pilot.app
    app.query_one(StatusBar).state = "ready"
    app.model_configured(INFO)
    await wait_for(pilot, lambda: len(app.panes) == 4, 20, "the panes built ahead")
    await pilot.pause()
    return app


async def test_the_line_follows_the_focused_pane_without_building_widgets():
    app = fake_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        footer = app.query_one(KeyFooter)
        train = footer.text()
        assert train.startswith(" s Start  space Pause  n Step  x Stop  a Apply  ^s Save")
        assert train.rstrip().endswith(f"{DIVIDER}? Help  q Quit  ^p palette")
        assert len(train) == 100  # the palette's key at the right edge, one space after it
        await pilot.press("1")
        await pilot.pause()
        assert footer.text().startswith(" t Table  w Weights  e Embedding  f Forward  c Code")
        await pilot.press("3")
        await pilot.pause()
        assert footer.text().startswith(" ^c Interrupt cell  ^t Recipes  ^s Save transcript")
        assert not footer.children  # one line of text, no widget per key


async def test_keys_that_do_not_fit_are_left_out_whole_and_help_quit_palette_keep_their_place():
    app = fake_app()
    async with app.run_test(size=(60, 24)) as pilot:
        await ready(pilot)
        text = app.query_one(KeyFooter).text()
        right = f"{DIVIDER}? Help  q Quit  ^p palette "
        assert text == " s Start  space Pause  n Step ".ljust(60 - len(right)) + right


async def test_at_80_columns_every_pane_shows_help_and_quit_and_a_text_box_says_how_to_leave():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        footer = app.query_one(KeyFooter)
        right = f"{DIVIDER}? Help  q Quit  ^p palette "
        assert (
            footer.text()
            == " s Start  space Pause  n Step  x Stop  a Apply ".ljust(80 - 28) + right
        )
        assert len(right) == 28
        # the Playground and Predict panes put the focus in their text boxes
        for key, typing in (("1", False), ("3", True), ("4", True), ("2", False)):
            app.action_leave_input()
            await pilot.press(key)
            await pilot.pause()
            right = "esc Leave box  ^q Quit" if typing else "? Help  q Quit"
            assert footer.text().endswith(f"{DIVIDER}{right}  ^p palette "), key
            assert len(footer.text()) == 80
            if key == "1":  # Summary's views, the lessons' L1 and L3 keys among them, all fit
                assert footer.text().startswith(
                    " t Table  w Weights  e Embedding  f Forward  c Code"
                )
        # in a text box letters type: the line says escape leaves it and ^q quits
        app.query_one("#field-lr").focus()
        await pilot.pause()
        text = footer.text()
        assert text.endswith(f"{DIVIDER}esc Leave box  ^q Quit  ^p palette "), text
        assert " q Quit" not in text and "? Help" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert footer.text().endswith(f"{DIVIDER}? Help  q Quit  ^p palette ")


async def test_a_click_on_a_key_presses_it():
    app = fake_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("3")
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        x = footer.text().index("^t Recipes")
        await pilot.click(KeyFooter, offset=(x + 1, 0))
        await wait_for(
            pilot, lambda: type(app.screen).__name__ == "RecipeScreen", 5, "the recipe list"
        )


def _compounds(selector_set) -> list[list]:
    """A selector's steps, joined ones (``Vertical.x:focus``) grouped as one."""
    groups: list[list] = []
    for step in selector_set.selectors:
        if groups and step.combinator == CombinatorType.SAME:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def _may_match(compound, panes) -> bool:
    for step in compound:
        if step.type == SelectorType.TYPE and not any(
            step.name in ("*", "") or step.name in {c.__name__ for c in type(p).__mro__}
            for p in panes
        ):
            return False
        if step.type == SelectorType.ID and step.name not in {p.id for p in panes}:
            return False
        if step.type == SelectorType.CLASS and not any(step.name in p.classes for p in panes):
            return False
    return True


def _styles_contents_by_focus(selector_set, panes) -> bool:
    """Whether a rule selects below a compound that has :focus and could match a pane."""
    groups = _compounds(selector_set)
    return any(
        {"focus", "focus-within"} & {c for step in compound for c in step.pseudo_classes}
        and _may_match(compound, panes)
        for compound in groups[:-1]
    )


async def test_no_rule_styles_a_panes_contents_by_its_focus():
    """Pane.watch_has_focus restyles the pane alone (Textual restyles the subtree: ~30 ms for
    the Train pane on each switch away from it). That is right only while this holds."""
    app = fake_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        panes = list(app.panes.values())
        assert len(panes) == 4 and all(isinstance(pane, Pane) for pane in panes)
        focus_rules = [
            selector_set.css
            for rule in app.stylesheet.rules
            for selector_set in rule.selector_set
            if any({"focus", "focus-within"} & s.pseudo_classes for s in selector_set.selectors)
        ]
        assert focus_rules  # the check sees Textual's own :focus rules (Input, DataTable…)
        offending = [
            selector_set.css
            for rule in app.stylesheet.rules
            for selector_set in rule.selector_set
            if _styles_contents_by_focus(selector_set, panes)
        ]
        assert offending == []


async def test_space_says_resume_while_the_run_is_paused():
    app = fake_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        footer = app.query_one(KeyFooter)
        train = app.panes["train"]
        train.state_changed("running", "")
        await pilot.pause()
        assert "space Pause " in footer.text()
        train.state_changed("paused", "paused by request")
        await pilot.pause()
        assert "space Resume " in footer.text() and "Pause" not in footer.text()
        train.state_changed("running", "")
        await pilot.pause()
        assert "space Pause " in footer.text()
