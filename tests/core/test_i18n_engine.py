"""The engine speaks its client's language: set by hello's lang and by the language op, and by
TORCHDECK_LANG in its environment when started."""

from __future__ import annotations

import pytest

from core.errors import EngineError
from tests.core.engine_helpers import EVENT_TIMEOUT

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_language_op_switches_and_refuses_what_it_cannot_speak(engine):
    assert await engine.request("language", {"lang": "vi"}, timeout=EVENT_TIMEOUT) == {"lang": "vi"}
    try:
        with pytest.raises(EngineError) as err:
            await engine.request("language", {"lang": "fr"}, timeout=EVENT_TIMEOUT)
        assert err.value.type == "RequestError"
        assert "lang" in err.value.message
    finally:
        await engine.request("language", {"lang": "en"}, timeout=EVENT_TIMEOUT)


async def test_hello_takes_a_language_or_leaves_it_be(engine):
    from core.protocol import PROTOCOL_VERSION

    hello = {"protocol": PROTOCOL_VERSION, "role": "ui"}
    await engine.request("hello", {**hello, "lang": ""}, timeout=EVENT_TIMEOUT)
    with pytest.raises(EngineError) as err:
        await engine.request("hello", {**hello, "lang": "xx"}, timeout=EVENT_TIMEOUT)
    assert err.value.type == "RequestError"
