"""core.transport.end_process: an engine that hangs (stopped by SIGSTOP, say) is killed, and a
child of this process is reaped, not left as a zombie until the app exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from core.transport import end_process


def test_a_stopped_child_is_killed_and_reaped():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    os.kill(child.pid, signal.SIGSTOP)
    end_process(child.pid, grace=0.2, term=False)
    assert not os.path.exists(f"/proc/{child.pid}")  # no <defunct> entry left
    child.returncode = -signal.SIGKILL  # reaped above: Popen must not wait for it again
