"""What the help screen and the command palette list: every key of the app and of each pane, and
every action as a palette command with a plain name."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand
from textual.keys import format_key

from tui.panes.registry import PANES, pane_class

APP_KEYS = [
    ("F1…F4, 1…4", "switch pane (digits only outside text boxes)"),
    ("tab / ⇧tab", "move between a pane's parts: Train's settings form,"),
    ("", "Summary's views, the text boxes"),
    ("escape", "leave a text box: in one, letters type; out, they act"),
    ("L", "lessons L1–L4, guided: steps that tick as you do them"),
    ("u", "the machine: CPU, memory and GPU, live, with history"),
    ("?", "this help"),
    ("ctrl+p", "command palette: every action"),
    ("ctrl+r", "restart the engine"),
    ("ctrl+l", "restart the engine and load the last checkpoint"),
    ("q / ctrl+q", "quit (q outside text boxes); while a run trains,"),
    ("", "k keeps it training in the background, s stops it"),
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
    "gpt": "a small transformer (nanoGPT's shape), attention and all",
    "mini": "Embedding → Linear → ReLU → Linear: the course's MyFirstModel (L1)",
    "mlp": "the last 8 characters' embeddings through an MLP (Bengio 2003)",
    "parabola": "f(x) = 3x² − 2x + 3 by plain SGD from x = −1: the backprop lesson (L2)",
}


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """The help screen's sections: the app's keys, then each pane's bindings."""
    sections = [("Everywhere", APP_KEYS)]
    for key, _ in PANES:
        cls = pane_class(key)
        keys = [(key_display(b.key), b.tooltip or b.description) for b in cls.BINDINGS]
        if keys:
            sections.append((cls.TITLE, keys))
    return sections


def system_commands(app, inherited: Iterable[SystemCommand]) -> Iterable[SystemCommand]:
    """The palette's commands: Textual's own (its Quit replaced), each pane's switch and
    bindings, the machine view, an engine restart."""
    for command in inherited:
        if command.title != "Quit":
            yield command
    yield SystemCommand(
        "Quit",
        "quit torchdeck; a run in progress can keep training in the background",
        app.action_quit,
    )
    for key, title in PANES:
        yield SystemCommand(
            f"Show {title}",
            f"switch to the {title} pane",
            lambda k=key: app.action_show_pane(k),
        )
    train = app.panes.get("train")
    if train is not None:
        for preset, blurb in PRESET_BLURBS.items():
            yield SystemCommand(
                f"Preset: {preset}",
                f"build a fresh {preset} model with its settings: {blurb}",
                lambda p=preset: train.choose_preset(p),
            )
    for pane in list(app.panes.values()):
        for b in pane.BINDINGS:
            yield SystemCommand(
                f"{pane.TITLE.split()[0]}: {b.tooltip or b.description}",
                f"key {b.key}",
                lambda a=b.action, p=pane: app.run_action(a, p),
            )
    yield SystemCommand(
        "Lessons", "the course's lessons L1–L4, guided step by step (key L)", app.action_lessons
    )
    yield SystemCommand("Help", "every key of the app and of each pane (key ?)", app.action_help)
    yield SystemCommand("Machine", "CPU, memory and GPU beside the run (key u)", app.action_machine)
    yield SystemCommand(
        "Restart engine", "start a fresh engine process (key ^r)", app.action_restart_engine
    )
    yield SystemCommand(
        "Restart engine and load",
        "a fresh engine, then the last checkpoint (key ^l)",
        app.action_restart_and_load,
    )
