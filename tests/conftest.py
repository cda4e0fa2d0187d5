"""Every test runs with its own engine socket folder: no test sees, or leaves behind, the
sockets of the engines a person runs on this machine (``core.runtime``)."""

from __future__ import annotations

import os
import tempfile

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_runtime_dir():
    if os.environ.get("TORCHDECK_RUNTIME_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="torchdeck-rt-") as folder:
        os.chmod(folder, 0o700)
        os.environ["TORCHDECK_RUNTIME_DIR"] = folder
        try:
            yield
        finally:
            os.environ.pop("TORCHDECK_RUNTIME_DIR", None)


@pytest.fixture(autouse=True)
def _english():
    """Tests read English unless they switch: whatever LANG the machine has, and whatever
    language an earlier test left (the engines they start inherit TORCHDECK_LANG)."""
    from core import i18n

    i18n.set_language("en")
    yield
    i18n.set_language("en")
