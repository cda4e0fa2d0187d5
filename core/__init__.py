"""torchdeck core: the engine and everything that owns torch state.

Nothing in this package imports a UI library (Textual, Rich, plotext) or the ``tui`` package;
``core.protocol``, ``core.contract``, ``core.client``, ``core.errors`` and ``core.fmt`` import
no torch either, because the UI and the command line import them. ``tests/test_architecture.py``
checks both rules. The command-line front ends live in ``cli/``.
"""
