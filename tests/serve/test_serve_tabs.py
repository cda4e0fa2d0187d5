"""torchdeck serve's tabs: two opened at the same moment each started an engine of their own in
the folder (found by attacking serve); they now take turns, and the second attaches to the
engine the first started. Real engine processes, in a socket folder of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TIMEOUT = 120
TAB = (
    "import argparse\n"
    "from cli.serve_engines import attach_to_served\n"
    "args = argparse.Namespace(command=None, id=None)\n"
    "attach_to_served(args)\n"
    "print(args.command, args.id)\n"
)
ROOT = Path(__file__).resolve().parents[2]


def test_two_tabs_opened_at_once_share_one_engine(tmp_path):
    env = {**os.environ, "TORCHDECK_RUNTIME_DIR": str(tmp_path / "rt"), "PYTHONPATH": str(ROOT)}
    tabs = [
        subprocess.Popen(
            [sys.executable, "-c", TAB], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    said = [tab.communicate(timeout=TIMEOUT)[0].split() for tab in tabs]
    ls = subprocess.run(
        [sys.executable, "-m", "cli.main", "ls", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    engines = json.loads(ls.stdout)
    try:
        assert said[0][0] == said[1][0] == "attach"
        assert said[0][1] == said[1][1]  # the same engine for both tabs
        assert [e["id"] for e in engines] == [said[0][1]]
        assert engines[0]["run_dir"] == str((tmp_path / "runs" / "torchdeck").resolve())
    finally:
        for engine in engines:
            subprocess.run(
                [sys.executable, "-m", "cli.main", "stop", str(engine["id"])],
                cwd=tmp_path, env=env, capture_output=True, timeout=TIMEOUT,
            )  # fmt: skip
