"""torchdeck serve in a real browser: headless Chromium (the system's, driven by Playwright)
opens the printed URL, the app's screen arrives (read back from the bytes the page's terminal
was sent, through the same terminal emulator the bench uses), keys typed in the page reach the
app, closing the tab leaves a run training, and a request without the token gets 403.

Skipped, with the reason, where there is no Chromium or no Playwright."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyte
import pytest

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None
)
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)"
)
ROOT = Path(__file__).resolve().parents[2]

# Kept by the page: every byte the server sent to the terminal, so the test can see the screen.
RECORD = """
window.__bytes = [];
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
  ws.addEventListener("message", (ev) => {
    if (ev.data instanceof ArrayBuffer) window.__bytes.push(new Uint8Array(ev.data));
    else if (ev.data instanceof Blob) ev.data.arrayBuffer().then((b) => window.__bytes.push(new Uint8Array(b)));
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
window.__screenBytes = () => {
  let s = "";
  for (const a of window.__bytes) for (const b of a) s += String.fromCharCode(b);
  return btoa(s);
};
"""


def screen(page) -> list[str]:
    data = base64.b64decode(page.evaluate("window.__screenBytes()"))
    view = pyte.Screen(240, 80)
    pyte.ByteStream(view).feed(data)
    return [row.rstrip() for row in view.display]


def wait_screen(page, check, what: str, timeout: float = 60.0) -> list[str]:
    deadline = time.monotonic() + timeout
    rows: list[str] = []
    while time.monotonic() < deadline:
        rows = screen(page)
        if check(rows):
            return rows
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; the screen:\n" + "\n".join(rows[:30]))


def engines_here(folder: Path) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "ls", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    here = str((folder / "runs" / "torchdeck").resolve())
    return [e for e in json.loads(out.stdout or "[]") if e.get("run_dir") == here]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(free_port()), "--preset", "gpt"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    found = re.search(r"http://\S+", line)
    assert found, f"no URL printed: {line!r} {proc.stderr.read() if proc.poll() else ''}"
    try:
        yield found.group(0), proc, tmp_path
    finally:
        for e in engines_here(tmp_path):
            subprocess.run(
                [sys.executable, "-m", "cli.main", "stop", str(e["id"])],
                cwd=ROOT,
                capture_output=True,
                timeout=90,
            )
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_the_app_in_a_browser_types_predicts_and_a_closed_tab_leaves_its_run(served):
    address, proc, folder = served
    bare = address.split("?")[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare, timeout=10)
    assert refused.value.code == 403
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.add_init_script(RECORD)
            assert page.goto(address).status == 200
            rows = wait_screen(page, lambda r: any("● ready" in x for x in r), "the app ready")
            assert "Summary F1  Train F2  Playground F3  Predict F4" in "\n".join(rows)
            page.locator(".textual-terminal").first.click(position={"x": 5, "y": 5})
            page.keyboard.press("F4")
            page.keyboard.type("the qu")
            rows = wait_screen(
                page,
                lambda r: (
                    any("▊  the qu" in x for x in r)  # every key typed has arrived
                    and any("text loss" in x for x in r)
                    and sum(bool(re.search(r"\d+\.\d%", x)) for x in r) >= 10
                ),
                "the whole text and the next character's probabilities",
            )
            assert any("▊  the qu" in x for x in rows)
            assert sum(bool(re.search(r"\d+\.\d%", x)) for x in rows) >= 10  # ten bars
            # a run started in the browser goes on when its tab closes
            page.keyboard.press("Escape")
            page.keyboard.press("F2")
            page.keyboard.press("s")
            wait_screen(page, lambda r: any("● running" in x for x in r), "the run going")
            page.close()
            time.sleep(2)
            (engine,) = engines_here(folder)
            assert engine["state"] == "running" and engine["clients"] == 0
            # a new tab attaches to it
            again = browser.new_page(viewport={"width": 1280, "height": 720})
            again.add_init_script(RECORD)
            again.goto(address)
            wait_screen(again, lambda r: any("● running" in x for x in r), "the run, attached")
            again.close()
        finally:
            browser.close()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert f"engine {engine['id']} goes on training (running" in out
    assert f"torchdeck attach {engine['id']}" in out
