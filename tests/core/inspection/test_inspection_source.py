"""The model's own code (core/inspection/source.py, op ``model_source``): ``forward`` first, the
methods it calls, then ``__init__``, as written; one line when the source cannot be found."""

from __future__ import annotations

import importlib.util
import inspect
import io
import json

import pytest
import torch.nn as nn

from core.contract import RESULTS
from core.contract.inspect import ModelSourceResult, SourceBlock
from core.engine import Engine
from core.inspection import model_source
from core.inspection.source import MAX_BLOCK_LINES
from core.models import GPT, MiniLM, Parabola
from core.protocol import Request


@pytest.fixture
def engine():
    return Engine(io.StringIO())


def reply(engine: Engine, op: str, **args) -> dict:
    engine._handle(("req", Request(1, op, args), None))
    return json.loads(engine.out.getvalue().strip().splitlines()[-1])


def test_mini_forward_then_init_as_written(make_session, corpus_file):
    out = model_source(make_session("mini", corpus_file).model)
    assert out["class_name"] == "MiniLM" and out["module"] == "core.models"
    assert out["missing"] == ""
    forward, init = out["blocks"]
    assert [forward["name"], init["name"]] == ["forward", "__init__"]
    assert forward["qualname"] == "MiniLM.forward" and init["qualname"] == "MiniLM.__init__"
    assert forward["source"].startswith("def forward(self, idx")  # dedented
    assert "x = self.embedding(idx)" in forward["source"]
    assert "self.hidden = nn.Linear(config.n_embd, config.n_hidden)" in init["source"]
    lines, first = inspect.getsourcelines(MiniLM.forward)
    assert forward["line"] == first and len(forward["source"].splitlines()) == len(lines)


def test_a_method_forward_calls_is_shown_between(make_session):
    blocks = model_source(make_session("parabola").model)["blocks"]
    assert [b["qualname"] for b in blocks] == [
        "Parabola.forward",
        "Parabola.f",
        "Parabola.__init__",
    ]
    assert "return c.a * self.x**2 + c.b * self.x + c.c" in blocks[1]["source"]
    assert blocks[1]["line"] == inspect.getsourcelines(Parabola.f)[1]


def test_gpt_submodules_are_layers_not_methods(make_session, corpus_file):
    blocks = model_source(make_session("gpt", corpus_file).model)["blocks"]
    assert [b["qualname"] for b in blocks] == ["GPT.forward", "GPT.__init__"]
    assert blocks[0]["line"] == inspect.getsourcelines(GPT.forward)[1]


def test_source_that_cannot_be_found_is_one_line():
    namespace: dict = {}
    exec(
        "import torch.nn as nn\nclass Net(nn.Module):\n    def forward(self, x):\n        return x",
        namespace,
    )
    out = model_source(namespace["Net"]())
    assert out == {
        "class_name": "Net",
        "module": "builtins",
        "blocks": [],
        "missing": "the source of Net.forward cannot be found (could not get source code)",
    }
    bare = model_source(nn.Module())
    assert bare["blocks"] == [] and bare["missing"] == "Module defines no forward method"


def test_torch_classes_show_forward_but_not_module_init():
    blocks = model_source(nn.Sequential(nn.Linear(2, 2)))["blocks"]
    assert [b["qualname"] for b in blocks] == ["Sequential.forward", "Sequential.__init__"]

    class Plain(nn.Module):  # no __init__ of its own: nn.Module's would teach nothing
        def forward(self, x):
            return self.double(x)

        def double(self, x):
            return 2 * x

    assert [b["name"] for b in model_source(Plain())["blocks"]] == ["forward", "double"]


def test_a_long_method_is_cut_with_a_count(tmp_path):
    body = "".join(f"        x = x + {i}\n" for i in range(MAX_BLOCK_LINES + 5))
    path = tmp_path / "long_model.py"
    path.write_text(
        f"import torch.nn as nn\nclass Long(nn.Module):\n    def forward(self, x):\n{body}"
    )
    spec = importlib.util.spec_from_file_location("long_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = model_source(module.Long())["blocks"][0]["source"].splitlines()
    assert len(source) == MAX_BLOCK_LINES + 1 and source[0] == "def forward(self, x):"
    assert source[-1] == "# … 6 more lines"  # 206 lines: the def and 205 sums


def test_engine_answers_with_the_typed_result(engine, make_session, corpus_file):
    engine.session = make_session("mini", corpus_file)
    r = reply(engine, "model_source")
    assert r["ok"], r
    typed = RESULTS["model_source"].from_dict(r["result"])
    assert isinstance(typed, ModelSourceResult) and isinstance(typed.blocks[0], SourceBlock)
    assert json.dumps(typed.to_dict()) == json.dumps(r["result"])  # same keys, same order
    assert list(r["result"]) == ["class_name", "module", "blocks", "missing"]
    assert list(r["result"]["blocks"][0]) == ["name", "qualname", "line", "source"]
    assert [b.name for b in typed.blocks] == ["forward", "__init__"]


def test_engine_refuses_arguments_and_needs_a_model(engine):
    r = reply(engine, "model_source")
    assert not r["ok"] and r["error"]["type"] == "ConfigError"
    r = reply(engine, "model_source", name="forward")
    assert not r["ok"] and r["error"]["type"] == "RequestError"
