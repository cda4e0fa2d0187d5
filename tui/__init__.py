"""torchdeck's Textual app: the four panes, their widgets and screens.

Imports no torch: everything that touches torch runs in the engine process (core.engine),
reached through core.client and spoken in core.contract's typed messages.
"""
