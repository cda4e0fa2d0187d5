"""torchdeck's user interface: the command line and (soon) the Textual app.

Imports no torch: everything that touches torch runs in the engine process (core.engine),
reached through core.client.
"""
