"""What the help screen and the command palette list: every key of the app and of each pane, and
every action as a palette command with a plain name."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand
from textual.keys import format_key

from core import i18n
from core.i18n import N_, _
from tui.panes.registry import PANES, pane_class

# the descriptions are msgids: the help screen translates them where it draws them
APP_KEYS = [
    ("F1…F4, 1…4", N_("switch pane (digits only outside text boxes)")),
    (
        "tab / ⇧tab",
        N_("move between a pane's parts: Train's settings form, Summary's views, the text boxes"),
    ),
    ("escape", N_("leave a text box: in one, letters type; out, they act")),
    ("L", N_("lessons L1–L4, guided: steps that tick as you do them")),
    ("u", N_("the machine: CPU, memory and GPU, live, with history")),
    ("?", N_("this help")),
    ("F5", N_("language: Tiếng Việt ⇄ English, live (nothing is lost)")),
    ("ctrl+p", N_("command palette: every action")),
    ("ctrl+r", N_("restart the engine")),
    ("ctrl+l", N_("restart the engine and load the last checkpoint")),
    (
        "q / ctrl+q",
        N_(
            "quit (q outside text boxes); while a run trains, k keeps it training in the "
            "background, s stops it"
        ),
    ),
]


def key_display(keys: str) -> str:
    """A binding's keys as a person reads them: "plus,equals_sign,up" is "+ / = / ↑", and
    "g,ctrl+g" is "g / ^g" (Textual's names would break the help screen's columns)."""
    shown = []
    for key in keys.split(","):
        *modifiers, name = key.strip().split("+")
        name = format_key(name)
        if "ctrl" in modifiers:
            modifiers.remove("ctrl")
            name = f"^{name}"
        shown.append("+".join([*modifiers, name]))
    return " / ".join(shown)


# What each preset is, for the palette: a person searching "preset" or a preset's name finds it.
PRESET_BLURBS = {
    "gpt": N_("a small transformer (nanoGPT's shape), attention and all"),
    "mini": N_("Embedding → Linear → ReLU → Linear: the course's MyFirstModel (L1)"),
    "mlp": N_("the last 8 characters' embeddings through an MLP (Bengio 2003)"),
    "parabola": N_("f(x) = 3x² − 2x + 3 by plain SGD from x = −1: the backprop lesson (L2)"),
}


# Textual's own commands, marked here for the catalog: the palette shows them translated
TEXTUAL_COMMANDS = (
    N_("Theme"),
    N_("Change the current theme"),
    N_("Minimize"),
    N_("Minimize the widget and restore to normal size"),
    N_("Maximize"),
    N_("Maximize the focused widget"),
    N_("Screenshot"),
    N_("Save an SVG 'screenshot' of the current screen"),
    N_("Search for commands…"),
)


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """The help screen's sections: the app's keys, then each pane's bindings. Titles and
    descriptions are msgids (English): the help screen translates them as it draws them, so
    that it follows a switch of language while it is open."""
    sections = [(N_("Everywhere"), APP_KEYS)]
    for key, _title in PANES:
        cls = pane_class(key)
        keys = [(key_display(b.key), b.tooltip or b.description) for b in cls.BINDINGS]
        keys += [(key_display(k), words) for k, words in getattr(cls, "HELP_EXTRA", ())]
        if keys:
            sections.append((cls.TITLE, keys))
    return sections


def system_commands(app, inherited: Iterable[SystemCommand]) -> Iterable[SystemCommand]:
    """The palette's commands: Textual's own (its Quit replaced), each pane's switch and
    bindings, the machine view, an engine restart, the language."""
    for command in inherited:
        # Textual's Keys panel shows the bindings' English as they are: the help (?) lists
        # every key, in the language of the moment
        if command.title not in ("Quit", "Keys"):
            yield command._replace(title=_(command.title), help=_(command.help))
    yield SystemCommand(
        _("Quit"),
        _("quit torchdeck; a run in progress can keep training in the background"),
        app.action_quit,
    )
    for key, title in PANES:
        yield SystemCommand(
            _("Show {pane}").format(pane=i18n._(title)),
            _("switch to the {pane} pane").format(pane=i18n._(title)),
            lambda k=key: app.action_show_pane(k),
        )
    train = app.panes.get("train")
    if train is not None:
        for preset, blurb in PRESET_BLURBS.items():
            yield SystemCommand(
                _("Preset: {preset}").format(preset=preset),
                _("build a fresh {preset} model with its settings: {blurb}").format(
                    preset=preset, blurb=i18n._(blurb)
                ),
                lambda p=preset: train.choose_preset(p),
            )
    names = dict(PANES)
    for key, pane in list(app.panes.items()):
        for b in pane.BINDINGS:
            yield SystemCommand(
                f"{i18n._(names.get(key, pane.TITLE))}: {i18n._(b.tooltip or b.description)}",
                _("key {key}").format(key=key_display(b.key)),
                lambda a=b.action, p=pane: app.run_action(a, p),
            )
    yield SystemCommand(
        _("Lessons"),
        _("the course's lessons L1–L4, guided step by step (key L)"),
        app.action_lessons,
    )
    yield SystemCommand(
        _("Help"), _("every key of the app and of each pane (key ?)"), app.action_help
    )
    yield SystemCommand(
        _("Machine"), _("CPU, memory and GPU beside the run (key u)"), app.action_machine
    )
    yield SystemCommand(
        _("Language"),
        _("switch Tiếng Việt ⇄ English, live (key F5)"),
        app.action_language,
    )
    yield SystemCommand(
        _("Restart engine"), _("start a fresh engine process (key ^r)"), app.action_restart_engine
    )
    yield SystemCommand(
        _("Restart engine and load"),
        _("a fresh engine, then the last checkpoint (key ^l)"),
        app.action_restart_and_load,
    )
