"""The wire format (core.protocol): encoding, decoding, argument checking. No torch, no engine."""

from __future__ import annotations

import json
import math

import pytest

from core.errors import RequestError, TorchdeckError
from core.protocol import (
    PROTOCOL_VERSION,
    Arg,
    ErrorInfo,
    Event,
    Reply,
    Request,
    check_args,
    decode,
    encode,
)

# -- encode / decode round trips -----------------------------------------------------------------


def test_protocol_version_is_3():
    assert PROTOCOL_VERSION == 3


def test_request_round_trip():
    req = Request(7, "predict", {"text": "Xin chào thế giới", "k": 3, "top_p": 0.5})
    line = encode(req)
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "id": 7,
        "op": "predict",
        "args": {"text": "Xin chào thế giới", "k": 3, "top_p": 0.5},
    }
    assert "Xin chào thế giới" in line  # not \u-escaped
    assert decode(line) == req


def test_request_default_args_round_trip():
    assert decode(encode(Request(1, "status"))) == Request(1, "status", {})


def test_ok_reply_round_trip():
    reply = Reply(3, True, result={"state": "idle", "losses": [1.5, 2.25], "session": None})
    line = encode(reply)
    assert json.loads(line) == {
        "id": 3,
        "ok": True,
        "result": {"state": "idle", "losses": [1.5, 2.25], "session": None},
    }
    assert decode(line) == reply


def test_ok_reply_without_result_encodes_empty_object():
    line = encode(Reply(4, True))
    assert json.loads(line) == {"id": 4, "ok": True, "result": {}}
    assert decode(line) == Reply(4, True, result={})


def test_error_reply_round_trip():
    reply = Reply(9, False, error=ErrorInfo("ConfigError", "unknown preset 'x'", "choose gpt"))
    line = encode(reply)
    assert json.loads(line) == {
        "id": 9,
        "ok": False,
        "error": {"type": "ConfigError", "message": "unknown preset 'x'", "hint": "choose gpt"},
    }
    back = decode(line)
    assert back == reply
    assert back.result is None


def test_error_reply_without_error_info_gets_a_generic_one():
    line = encode(Reply(5, False))
    assert json.loads(line)["error"] == {"type": "Error", "message": "unknown error", "hint": ""}
    assert decode(line).error == ErrorInfo("Error", "unknown error", "")


def test_error_reply_with_partial_error_object_decodes_defaults():
    back = decode('{"id": 2, "ok": false, "error": {"message": "boom"}}')
    assert back == Reply(2, False, error=ErrorInfo("Error", "boom", ""))


def test_event_round_trip():
    ev = Event("train_progress", {"step": 12, "loss": 2.5, "parabola": {"x": -1.0}})
    line = encode(ev)
    assert json.loads(line) == {
        "event": "train_progress",
        "data": {"step": 12, "loss": 2.5, "parabola": {"x": -1.0}},
    }
    assert decode(line) == ev


def test_event_without_data_decodes_to_empty_dict():
    assert decode('{"event": "ready"}') == Event("ready", {})
    assert decode('{"event": "ready", "data": null}') == Event("ready", {})


def test_decode_accepts_bytes():
    raw = encode(Request(11, "generate", {"prompt": "ủa"})).encode("utf-8")
    assert decode(raw) == Request(11, "generate", {"prompt": "ủa"})


# -- non-finite floats ---------------------------------------------------------------------------


def test_nan_and_infinities_become_strings():
    ev = Event(
        "train_progress",
        {
            "loss": math.nan,
            "grad_norm": math.inf,
            "low": -math.inf,
            "ok": 1.25,
            "losses": [1.0, math.nan, math.inf],
            "nested": {"deep": (math.nan, -math.inf)},
        },
    )
    line = encode(ev)
    # strict JSON: no bare NaN/Infinity tokens that other readers refuse
    assert "NaN" not in line and "Infinity" not in line
    data = json.loads(line)["data"]
    assert data == {
        "loss": "nan",
        "grad_norm": "inf",
        "low": "-inf",
        "ok": 1.25,
        "losses": [1.0, "nan", "inf"],
        "nested": {"deep": ["nan", "-inf"]},
    }


def test_nan_in_reply_result_becomes_string():
    line = encode(Reply(1, True, result={"val_loss": float("nan")}))
    assert decode(line).result == {"val_loss": "nan"}


def test_encode_rejects_non_messages():
    with pytest.raises(TypeError, match="not a protocol message"):
        encode({"id": 1, "op": "status"})  # type: ignore[arg-type]


# -- decode errors -------------------------------------------------------------------------------


def _decode_error(line) -> RequestError:
    with pytest.raises(RequestError) as info:
        decode(line)
    return info.value


def test_request_error_is_a_value_error_with_hint():
    err = _decode_error("nope")
    assert isinstance(err, ValueError) and isinstance(err, TorchdeckError)
    assert err.hint
    assert str(err) == f"{err.message} ({err.hint})"


@pytest.mark.parametrize("line", ["this is not json", '{"id": 1, ', "", "{'id': 1}"])
def test_decode_non_json(line):
    err = _decode_error(line)
    assert err.message.startswith("protocol line is not JSON: ")
    assert "at column" in err.message
    assert '"op": "status"' in err.hint


def test_decode_non_utf8_bytes():
    err = _decode_error(b'{"id": 1, "op": "st\xffatus"}')
    assert err.message == "protocol line is not UTF-8 (byte 19)"
    assert err.hint == "send UTF-8 JSON"


@pytest.mark.parametrize("line", ["[1, 2, 3]", "42", '"status"', "null", "true"])
def test_decode_non_object(line):
    err = _decode_error(line)
    assert err.message == "protocol line is not a JSON object"
    assert "{...}" in err.hint


@pytest.mark.parametrize(
    "line",
    [
        '{"op": "status"}',
        '{"id": null, "op": "status"}',
        '{"id": "7", "op": "status"}',
        '{"id": 7.0, "op": "status"}',
        '{"id": true, "op": "status"}',  # a bool is not an id
    ],
)
def test_decode_request_without_integer_id(line):
    err = _decode_error(line)
    assert err.message == "request has no integer 'id'"
    assert '"id": <int>' in err.hint


def test_decode_request_with_non_string_op():
    err = _decode_error('{"id": 1, "op": 5}')
    assert err.message == "request 'op' is not a string"


@pytest.mark.parametrize("args", ["[1, 2]", '"text"', "3", "true"])
def test_decode_request_with_bad_args(args):
    err = _decode_error('{"id": 1, "op": "predict", "args": ' + args + "}")
    assert err.message == "request 'args' is not an object"
    assert '"args": {}' in err.hint


def test_decode_request_with_missing_or_null_args():
    assert decode('{"id": 1, "op": "status"}') == Request(1, "status", {})
    assert decode('{"id": 1, "op": "status", "args": null}') == Request(1, "status", {})


def test_decode_object_of_unknown_shape():
    err = _decode_error('{"hello": "world"}')
    assert err.message == "protocol object is neither a request, a reply nor an event"
    assert "'id' and 'op'" in err.hint
    # a reply needs both ok and id
    assert _decode_error('{"ok": true}').message == err.message


# -- check_args ----------------------------------------------------------------------------------

SPEC = {
    "text": Arg(str, required=True),
    "k": Arg(int, check=lambda v: 1 <= v <= 10, expect="an integer in [1, 10]"),
    "lr": Arg(float, check=lambda v: v > 0, expect="a number > 0"),
    "greedy": Arg(bool),
    "top_k": Arg(int, nullable=True),
    "model": Arg(dict),
}


def _check_error(args, spec=SPEC, op="predict") -> RequestError:
    with pytest.raises(RequestError) as info:
        check_args(op, args, spec)
    return info.value


def test_check_args_accepts_valid_arguments_and_leaves_out_omitted_ones():
    args = {"text": "hi", "k": 3, "greedy": False}
    out = check_args("predict", args, SPEC)
    assert out == {"text": "hi", "k": 3, "greedy": False}
    assert "lr" not in out and "top_k" not in out
    assert out is not args


def test_check_args_unknown_argument():
    err = _check_error({"text": "hi", "zeta": 1, "bogus": 2})
    assert err.message == "predict: unknown argument(s) bogus, zeta"
    assert err.hint == "predict takes: greedy, k, lr, model, text, top_k"


def test_check_args_unknown_argument_for_op_without_arguments():
    err = _check_error({"x": 1}, spec={}, op="status")
    assert err.message == "status: unknown argument(s) x"
    assert err.hint == "status takes: no arguments"


def test_check_args_missing_required():
    err = _check_error({"k": 2})
    assert err.message == "predict: missing argument 'text'"
    assert err.hint == "give 'text' as a string"


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("k", "3", "an integer"),
        ("k", 3.0, "an integer"),  # a float is not an int
        ("k", True, "an integer"),  # bool is not int
        ("k", False, "an integer"),
        ("lr", True, "a number"),  # bool is not a number either
        ("lr", "0.1", "a number"),
        ("greedy", 1, "true or false"),
        ("text", 5, "a string"),
        ("text", None, "a string"),  # not nullable
        ("model", [], "an object"),
    ],
)
def test_check_args_wrong_type(name, value, expected):
    args = {"text": "hi", name: value}
    err = _check_error(args)
    assert err.message == f"predict: '{name}' must be {expected}, got {value!r}"
    assert err.hint == f"give '{name}' as {expected}"


def test_check_args_coerces_int_to_float():
    out = check_args("predict", {"text": "hi", "lr": 2}, SPEC)
    assert out["lr"] == 2.0
    assert type(out["lr"]) is float


def test_check_args_keeps_int_as_int():
    out = check_args("predict", {"text": "hi", "k": 4}, SPEC)
    assert type(out["k"]) is int


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_args_refuses_non_finite_numbers(value):
    err = _check_error({"text": "hi", "lr": value})
    assert err.message == f"predict: 'lr' must be finite, got {value!r}"
    assert err.hint == "give 'lr' a finite number"


@pytest.mark.parametrize(
    "name, value, shown, expect",
    [
        ("lr", 0, "0.0", "a number > 0"),
        ("lr", -1.5, "-1.5", "a number > 0"),
        ("k", 0, "0", "an integer in [1, 10]"),
        ("k", 11, "11", "an integer in [1, 10]"),
    ],
)
def test_check_args_out_of_range_names_op_and_argument(name, value, shown, expect):
    err = _check_error({"text": "hi", name: value})
    assert err.message == f"predict: '{name}' = {shown} is out of range"
    assert err.hint == f"'{name}' must be {expect}"


def test_check_args_nullable():
    out = check_args("predict", {"text": "hi", "top_k": None}, SPEC)
    assert out == {"text": "hi", "top_k": None}


def test_check_args_union_kinds_name_every_type():
    spec = {"value": Arg((int, str))}
    assert check_args("op", {"value": "a"}, spec) == {"value": "a"}
    err = _check_error({"value": 1.5}, spec=spec, op="op")
    assert err.message == "op: 'value' must be an integer or a string, got 1.5"


def test_engine_configure_spec_is_enforced_by_check_args():
    """The engine's own argument specs, as the engine enforces them."""
    from core.contract import ConfigureArgs

    CONFIGURE_SPEC = ConfigureArgs.spec()

    assert check_args("configure", {"lr": 1, "batch_size": 8}, CONFIGURE_SPEC) == {
        "lr": 1.0,
        "batch_size": 8,
    }
    err = _check_error({"lr": 0}, spec=CONFIGURE_SPEC, op="configure")
    assert err.message == "configure: 'lr' = 0.0 is out of range"
    assert err.hint == "'lr' must be a number in (0, 10], e.g. 0.001"
    err = _check_error({"batch_size": 0}, spec=CONFIGURE_SPEC, op="configure")
    assert err.message == "configure: 'batch_size' = 0 is out of range"
    assert err.hint == "'batch_size' must be an integer ≥ 1"
    err = _check_error({"batch_size": True}, spec=CONFIGURE_SPEC, op="configure")
    assert err.message == "configure: 'batch_size' must be an integer, got True"
    assert check_args("configure", {"corpus": None}, CONFIGURE_SPEC) == {"corpus": None}


def test_a_huge_wrong_value_is_quoted_short_in_its_error():
    """A client that sends 15 MB where a number goes gets an error of a line, not its 15 MB
    back (nor a list of a million numbers); the quote is cut where reprlib stops."""
    with pytest.raises(RequestError) as info:
        check_args("predict", {"text": "hi", "lr": "x" * 15_000_000}, SPEC)
    assert info.value.message == (
        "predict: 'lr' must be a number, got 'xxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
    )
    with pytest.raises(RequestError) as info:
        check_args("predict", {"text": list(range(1_000_000))}, SPEC)
    assert (
        info.value.message == "predict: 'text' must be a string, got [0, 1, 2, 3, 4, 5, 6, 7, ...]"
    )
    with pytest.raises(RequestError) as info:
        check_args("predict", {"text": "hi", "k": 10**5000}, SPEC)
    assert info.value.message == "predict: 'k' = an integer of about 5,001 digits is out of range"
