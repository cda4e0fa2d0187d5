"""Where a learner's place in the lessons is kept between sessions: which steps of each lesson
are done and the figures seen when they were. One small JSON file in the user's state folder
(``$TORCHDECK_STATE_DIR``, else ``$XDG_STATE_HOME/torchdeck``, else ``~/.local/state/torchdeck``),
written whole to a temporary file and renamed over the old one, so a crash never leaves half."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.i18n import _
from tui.lessons.figure import Figure

NAME = "lessons.json"


def state_dir() -> Path:
    if os.environ.get("TORCHDECK_STATE_DIR"):
        return Path(os.environ["TORCHDECK_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "torchdeck"


def path() -> Path:
    return state_dir() / NAME


def load(known: dict[str, int]) -> tuple[dict[str, set[int]], dict[tuple[str, int], str], str]:
    """The saved progress for the lessons ``known`` (key → number of steps): done steps, seen
    figures, and a note for the person when the file could not be read ("" when all is well).
    A file that cannot be read is moved aside (``lessons.json.bad``), never lost."""
    done: dict[str, set[int]] = {key: set() for key in known}
    seen: dict[tuple[str, int], str] = {}
    p = path()
    if not p.exists():
        return done, seen, ""
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        for key, steps in known.items():
            entry = data.get(key, {})
            done[key] = {i for i in entry.get("done", []) if isinstance(i, int) and 0 <= i < steps}
            said = entry.get("said", {})
            for i, text in entry.get("seen", {}).items():
                if int(i) in done[key]:
                    seen[(key, int(i))] = _figure(said.get(i)) or str(text)
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        bad = p.with_name(NAME + ".bad")
        try:
            os.replace(p, bad)
        except OSError:
            bad = p
        note = _(
            "lesson progress in {path} could not be read ({error}); kept as {bad}, starting afresh"
        ).format(path=p, error=exc, bad=bad)
        return {key: set() for key in known}, {}, note
    return done, seen, ""


def save(done: dict[str, set[int]], seen: dict[tuple[str, int], str]) -> None:
    """Write the progress (atomically); a folder that cannot be written is left alone: the
    lessons go on, only not remembered after the app closes."""
    data = {
        key: {
            "done": sorted(steps),
            "seen": {str(i): text for (k, i), text in seen.items() if k == key},
            # a figure's words and values, to say it again in the language of a later session
            "said": {
                str(i): {"template": text.template, "values": text.values}
                for (k, i), text in seen.items()
                if k == key and isinstance(text, Figure)
            },
        }
        for key, steps in done.items()
    }
    p = path()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{NAME}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, p)
    except OSError:
        pass


def _figure(said: object) -> Figure | None:
    """A figure saved with its words and values, made again (None if it cannot be)."""
    try:
        return Figure(said["template"], **said["values"])  # type: ignore[index]
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        return None
