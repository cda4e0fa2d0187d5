"""torchdeck core: the engine and everything that owns torch state.

Nothing in this package imports a UI library (Textual, Rich, plotext) or the ``tui`` package;
``core.protocol``, ``core.client``, ``core.errors`` and ``core.headless`` import no torch either,
because the UI imports them. ``tests/test_architecture.py`` checks both rules.
"""
