"""The architecture's two rules, checked in fresh interpreters (DESIGN.md):
core never loads a UI library; the UI side (core.protocol, core.client, cli.main, cli.headless,
tui and everything under it) never loads torch.

Modules are found on disk, packages walked recursively (core/inspection, tui/widgets, ...), so
a new module is checked without being listed here. Each group is imported in one fresh
interpreter: a fresh one per module would cost torch's ~1 s import (or Textual's) every time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_MODULES = ("textual", "textual_plotext", "plotext", "rich", "tui")
HEAVY_MODULES = ("torch", "numpy")  # numpy: torch's neighbour, the UI must stay light
TORCH_FREE = (
    "core.protocol",
    "core.contract",
    "core.contract.lab",
    "core.client",
    "core.errors",
    "core.fmt",
    "core.playground_recipes",
    "core.bench",
    "cli.main",
    "cli.headless",
    "cli.plot",
    "core.series",
    "core.history",
    "core.metric_log",
    "core.metrics_file",
    "core.system_view",
    "core.system_metrics",
    "core.monitor",
)

# Imports the modules named on its command line one after another and prints, for each, the
# top-level packages that importing it added to sys.modules: whoever first loads torch is named.
PROBE = """
import importlib, json, sys
added = {}
for name in sys.argv[1:]:
    before = set(sys.modules)
    importlib.import_module(name)
    added[name] = sorted({m.split(".")[0] for m in set(sys.modules) - before})
print(json.dumps(added))
"""


def _modules(package: str) -> list[str]:
    """Every module of ``package`` and of its subpackages (folders with an ``__init__.py``),
    the packages themselves included; found on disk, so nothing is imported here."""
    base = ROOT / package
    names = []
    for path in base.rglob("*.py"):
        folders = path.relative_to(ROOT).parent.parts
        if not all(
            (ROOT.joinpath(*folders[:i]) / "__init__.py").is_file()
            for i in range(1, len(folders) + 1)
        ):
            continue  # inside a folder that is not a package
        parts = list(folders) + ([] if path.stem == "__init__" else [path.stem])
        names.append(".".join(parts))
    return sorted(names)


def _leaks(modules: list[str], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """Import ``modules`` in one fresh interpreter; for each module that loaded any of
    ``forbidden`` (the first to load it: later ones find it already there), which it loaded."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    added = json.loads(out.stdout.strip().splitlines()[-1])
    assert sorted(added) == sorted(modules)
    return {
        name: sorted(set(loaded) & set(forbidden))
        for name, loaded in added.items()
        if set(loaded) & set(forbidden)
    }


def test_modules_are_found_in_subpackages():
    core, tui = _modules("core"), _modules("tui")
    for expected in (
        "core",
        "core.engine",
        "core.client",
        "core.protocol",
        "core.models",
        "core.inspection",
        "core.inspection.ops",
        "core.playground.ops",
        "core.bench.run",
        "core.contract.ops",
    ):
        assert expected in core
    for expected in ("tui", "tui.app", "tui.panes.summary_pane", "tui.widgets.status_bar"):
        assert expected in tui
    assert {"cli.main", "cli.headless", "cli.inspect"} <= set(_modules("cli"))


def test_core_modules_load_no_ui():
    leaks = _leaks(_modules("core"), UI_MODULES)
    assert not leaks, f"core modules loaded UI modules: {leaks}"


@pytest.mark.parametrize("group", ["torch-free", "tui"])
def test_ui_side_loads_no_torch(group):
    modules = list(TORCH_FREE) if group == "torch-free" else _modules("tui")
    leaks = _leaks(modules, HEAVY_MODULES)
    assert not leaks, f"the UI side must not load torch or numpy, but: {leaks}"


def test_the_first_frame_does_not_build_the_contracts_messages():
    """Building the contract's ~60 message dataclasses takes ~50 ms; the app's start-up path
    (the command, the app, the Train pane) loads only the settings and their rules, and the
    messages load when the engine first answers."""
    code = (
        "import sys, cli.main, tui.app; "
        "print(sorted(m for m in sys.modules if m.startswith('core.contract')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == str(
        ["core.contract", "core.contract.base", "core.contract.settings"]
    )
