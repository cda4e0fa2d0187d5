"""A real engine speaks Vietnamese once its client asks (the language op): its unknown-op error,
a playground cell's hint; English again after switching back."""

from __future__ import annotations

import pytest

from core.errors import EngineError
from tests.core.engine_helpers import EVENT_TIMEOUT

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _unknown_op(engine) -> EngineError:
    with pytest.raises(EngineError) as err:
        await engine.request("no_such_op", {}, timeout=EVENT_TIMEOUT)
    return err.value


async def test_the_unknown_op_error_follows_the_language_op(engine):
    english = await _unknown_op(engine)
    assert english.message == "unknown op 'no_such_op'"
    assert english.hint.startswith("ops are: ")
    await engine.request("language", {"lang": "vi"}, timeout=EVENT_TIMEOUT)
    try:
        vietnamese = await _unknown_op(engine)
        assert vietnamese.message == "op không xác định 'no_such_op'"
        assert vietnamese.hint.startswith("các op là: ")
        cell = await engine.request("exec", {"code": "missing_name"}, timeout=EVENT_TIMEOUT)
        assert cell["error"]["message"] == "name 'missing_name' is not defined"  # Python's words
        assert cell["error"]["hint"].startswith("các tên tồn tại cho đến khi")
    finally:
        await engine.request("language", {"lang": "en"}, timeout=EVENT_TIMEOUT)
    again = await _unknown_op(engine)
    assert again.message == english.message and again.hint == english.hint
