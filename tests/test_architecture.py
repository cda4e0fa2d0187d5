"""The architecture's two rules, checked in fresh interpreters (DESIGN.md):
core never loads a UI library; the UI side (core.protocol, core.client, core.headless, tui)
never loads torch."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_MODULES = ("textual", "textual_plotext", "plotext", "rich", "tui")
TORCH_FREE = ("core.protocol", "core.client", "core.errors", "core.headless", "tui.cli")


def _modules(package: str) -> list[str]:
    return sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules([str(ROOT / package)]))


def _loaded_after_import(*modules: str) -> set[str]:
    code = (f"import sys, json; import {', '.join(modules)}; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_modules_are_found():
    names = _modules("core")
    for expected in ("core.engine", "core.client", "core.protocol", "core.models"):
        assert expected in names


def test_core_modules_load_no_ui():
    # one fresh interpreter for all of core: each import costs torch's ~1 s otherwise
    modules = _modules("core")
    leaked = _loaded_after_import(*modules) & set(UI_MODULES)
    assert not leaked, f"core ({', '.join(modules)}) loaded UI modules {sorted(leaked)}"


@pytest.mark.parametrize("module", TORCH_FREE + tuple(m for m in _modules("tui")
                                                       if m not in TORCH_FREE))
def test_ui_side_loads_no_torch(module):
    loaded = _loaded_after_import(module)
    assert "torch" not in loaded, f"{module} loaded torch"
    assert "numpy" not in loaded, f"{module} loaded numpy (torch's neighbour: UI must stay light)"
