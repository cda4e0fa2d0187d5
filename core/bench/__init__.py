"""``torchdeck bench``: how fast this machine trains, and what the app adds to the cost.

Works without a UI: the training, prediction and quality figures drive the engine process
through ``core.client``; the app-side figures (training with the app open, event-loop lag,
first paint, memory of the UI) come from the real app run in a pseudo-terminal as a subprocess
(``python -m cli.main`` and ``python -m tui.bench_probe``), so this package imports no UI.

Every ratio is measured side by side in one run: A and B windows alternate (ABBA…), and the
median of the rounds is quoted with its spread (min–max), so the figure holds on a busy machine.
The bare loop (``bare_loop``) is an ordinary PyTorch loop written out, with the same model,
batch, context, optimizer, seed and threads as the engine. ``--json`` prints one JSON object.

Every engine is a detached one on its Unix socket, as ``torchdeck`` runs it, listening in a
runtime folder of the bench's own (``engines``) and ended afterwards, whatever happened; the
scaling figures' engines are pipe children (one, and a torchrun job), as ``torchdeck train``
runs them. ``--only FIGURE`` measures just the figures named.

The modules: ``plan`` (targets, window lengths, the plan from the arguments), ``stats``,
``bare_loop``, ``engines`` (the bench's detached engines, a client that counts bytes),
``engine_probes`` (the engine, headless), ``link_probes`` (bytes a socket client receives),
``app_probes`` (the app in a pseudo-terminal), ``feel_probes`` and ``pty_screen`` (keys
written to the app's terminal, timed to the frame that shows their effect, read with pyte),
``attach_probes`` (``torchdeck attach`` on a
long run), ``cuda``, ``dist_probes`` (2 ranks against 1 through torchrun, on CPU and on
GPUs), ``run`` (one run, phase by phase), ``report`` (the table) and ``cli``.
Importing the package loads no torch: the bare loop and the CUDA figures import it when they
run.
"""

from __future__ import annotations

from core.bench.cli import main

__all__ = ["main"]
