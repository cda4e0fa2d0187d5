"""One's own model (``--model FILE.py:FACTORY``): built, trained, saved and loaded like a preset,
and every way a model file can be wrong is one sentence naming the file and line."""

from __future__ import annotations

import textwrap

import pytest
import torch

from core.contract import ConfigureArgs, LoadArgs
from core.contract.settings import split_factory
from core.errors import CheckpointError, ConfigError
from core.models import with_loss
from core.session import RunSpec, Session
from core.user_model import FactoryConfig, ModelFileError, build

GOOD = """\
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self, vocab_size, width):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width)
        self.output = nn.Linear(width, vocab_size)

    def forward(self, ids):
        return self.output(self.embedding(ids))


def build(vocab_size, block_size):
    return Tiny(vocab_size, 8)
"""


def write(tmp_path, body: str, name: str = "my_model.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def own(tmp_path, corpus_file, body: str = GOOD, **train) -> Session:
    ref = write(tmp_path, body) + ":build"
    return Session.create(
        RunSpec(
            preset="mini",
            corpus=str(corpus_file),
            device="cpu",
            model={"block_size": 8},
            train={"batch_size": 4, "eval_interval": 0, **train},
            factory=ref,
        )
    )


def refusal(tmp_path, body: str, name: str = "my_model.py", attr: str = "build") -> str:
    ref = f"{write(tmp_path, body, name)}:{attr}"
    with pytest.raises(ModelFileError) as info:
        build(FactoryConfig(vocab_size=5, block_size=4, factory=ref), torch.device("cpu"))
    return info.value.message


# -- naming a factory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref, parts",
    [
        ("my_model.py:build", ("my_model.py", "build", True)),
        ("models/gpt:make", ("models/gpt", "make", True)),
        ("pkg.models:make", ("pkg.models", "make", False)),
    ],
)
def test_a_factory_is_a_file_or_a_module_and_a_name(ref, parts):
    assert split_factory(ref) == parts


@pytest.mark.parametrize("ref", ["my_model.py", "my_model.py:", "a.py:1x", ":build", "a b:c"])
def test_a_reference_without_a_factory_is_refused_with_the_form_to_write(ref):
    with pytest.raises(ConfigError) as info:
        split_factory(ref)
    assert info.value.message == f"{ref!r} does not name a factory"
    assert "FILE.py:FACTORY or package.module:FACTORY" in info.value.hint
    with pytest.raises(ConfigError) as refused:  # the engine's check of a configure request
        ConfigureArgs(factory=ref).validate()
    assert refused.value.message == f"factory = {ref!r} is out of range"
    assert refused.value.hint == "factory must be FILE.py:FACTORY or package.module:FACTORY"


# -- every way a model file can be wrong ----------------------------------------------------------


def test_a_missing_file_is_named(tmp_path):
    ref = f"{tmp_path / 'nope.py'}:build"
    with pytest.raises(ModelFileError) as info:
        build(FactoryConfig(5, 4, ref), torch.device("cpu"))
    assert info.value.message == f"--model {ref}: there is no file {tmp_path / 'nope.py'}"


def test_a_folder_is_not_a_model_file(tmp_path):
    (tmp_path / "models.py").mkdir()
    with pytest.raises(ModelFileError, match=r"models.py is a folder"):
        build(FactoryConfig(5, 4, f"{tmp_path / 'models.py'}:build"), torch.device("cpu"))


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    message = refusal(tmp_path, "import torch\n\ndef build(v, b)\n    return None\n")
    assert message == f"{tmp_path / 'my_model.py'} line 3: syntax error: expected ':'"


def test_an_exception_at_import_names_its_type_and_line(tmp_path):
    message = refusal(tmp_path, "x = 1\nscale = 1 / 0\n")
    assert message == (
        f"importing {tmp_path / 'my_model.py'} raised ZeroDivisionError: division by zero "
        "(my_model.py line 2)"
    )


def test_a_missing_factory_lists_what_the_file_defines(tmp_path):
    with pytest.raises(ModelFileError) as info:
        build(FactoryConfig(5, 4, write(tmp_path, GOOD) + ":make"), torch.device("cpu"))
    assert info.value.message == f"{tmp_path / 'my_model.py'} has no make"
    assert info.value.hint == "it defines: Tiny, build; name one of those"


def test_a_factory_that_is_not_a_function_is_refused(tmp_path):
    message = refusal(tmp_path, "build = 3\n")
    assert message == f"build in {tmp_path / 'my_model.py'} is an int, not a function"


def test_a_factory_that_raises_names_the_call_and_line(tmp_path):
    body = "def build(vocab_size, block_size):\n    raise ValueError('width too small')\n"
    message = refusal(tmp_path, body)
    assert message == (
        f"{tmp_path / 'my_model.py'}:build(vocab_size=5, block_size=4) raised ValueError: "
        "width too small (my_model.py line 2)"
    )


def test_a_factory_returning_no_module_is_refused(tmp_path):
    message = refusal(tmp_path, "def build(vocab_size, block_size):\n    return [1, 2]\n")
    assert message.endswith("build(vocab_size=5, block_size=4) returned a list, not an nn.Module")


def test_a_forward_that_raises_names_the_line(tmp_path):
    body = GOOD.replace("return self.output(self.embedding(ids))", "return self.output(ids)")
    message = refusal(tmp_path, body)
    assert message.startswith(
        "Tiny.forward in my_model.py on ids of shape [2, 4] raised RuntimeError: "
    )
    assert message.endswith("(my_model.py line 11)")


def test_logits_of_the_wrong_shape_are_refused_with_the_expected_one(tmp_path):
    body = GOOD.replace("return self.output(self.embedding(ids))", "return self.embedding(ids)")
    message = refusal(tmp_path, body)
    assert message == (
        "Tiny.forward in my_model.py gave logits of shape [2, 4, 8] for ids of shape [2, 4]; expected "
        "[2, 4, 5] (vocab_size 5)"
    )


def test_integer_logits_are_refused(tmp_path):
    body = GOOD.replace(
        "return self.output(self.embedding(ids))",
        "return ids[..., None] + 0 * ids.new_zeros(1, 1, 5)",
    )
    assert refusal(tmp_path, body) == "Tiny.forward in my_model.py gave int64 logits"


def test_a_module_factory_is_imported_by_name(tmp_path, monkeypatch):
    pkg = tmp_path / "zoo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tiny.py").write_text(GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    model = build(FactoryConfig(5, 4, "zoo.tiny:build"), torch.device("cpu"))
    assert type(model).__name__ == "Tiny"
    with pytest.raises(ModelFileError, match=r"--model zoo.nothing:build: there is no module"):
        build(FactoryConfig(5, 4, "zoo.nothing:build"), torch.device("cpu"))


# -- a session of one's own model ----------------------------------------------------------------


def test_own_model_builds_with_the_corpus_vocabulary_and_trains(tmp_path, corpus_file):
    session = own(tmp_path, corpus_file, steps=60, lr=0.05, warmup_steps=0)
    V = session.tokenizer.vocab_size
    info = session.describe()
    assert info.factory.endswith("my_model.py:build") and info.model_name == "my_model.py:build"
    assert info.params == V * 8 + 8 * V + V  # embedding, then Linear's weight and bias
    assert info.block_size == 8
    first = session.trainer.evaluate()
    session.trainer.run_steps(60)
    assert session.trainer.evaluate() < first - 0.5


def test_the_same_seed_gives_the_same_weights(tmp_path, corpus_file):
    a = own(tmp_path, corpus_file, seed=7).model.state_dict()
    b = own(tmp_path, corpus_file, seed=7).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_preset_sizes_are_refused_for_ones_own_model(tmp_path, corpus_file):
    ref = write(tmp_path, GOOD) + ":build"
    with pytest.raises(ConfigError) as info:
        Session.create(
            RunSpec(preset="gpt", corpus=str(corpus_file), model={"n_layer": 2}, factory=ref)
        )
    assert (
        info.value.message == f"--n-layer sets the size of a built-in model; {ref} builds its own"
    )
    with pytest.raises(ConfigError, match="the parabola preset is not one"):
        Session.create(RunSpec(preset="parabola", factory=ref))


def test_a_model_returning_logits_and_loss_is_trained_on_its_logits(tmp_path):
    body = GOOD.replace(
        "return self.output(self.embedding(ids))", "return self.output(self.embedding(ids)), None"
    )
    ref = write(tmp_path, body) + ":build"
    model = build(FactoryConfig(5, 4, ref), torch.device("cpu"))
    ids = torch.tensor([[1, 2, 3]])
    logits, loss = with_loss(model)(ids, torch.tensor([[2, 3, 4]]))
    expected = torch.nn.functional.cross_entropy(
        model(ids)[0].reshape(-1, 5), torch.tensor([2, 3, 4])
    )
    assert logits.shape == (1, 3, 5) and torch.allclose(loss, expected)


def test_reset_builds_the_same_factory_afresh(tmp_path, corpus_file):
    session = own(tmp_path, corpus_file)
    settings = session.settings()
    assert settings.factory == session.model_config.factory
    assert settings.model == {"block_size": 8}
    again = Session.create(settings)
    assert again.describe().params == session.describe().params


# -- checkpoints -----------------------------------------------------------------------------------


def test_a_checkpoint_needs_the_factory_named_by_the_person(tmp_path, corpus_file):
    session = own(tmp_path, corpus_file)
    session.trainer.run_steps(3)
    path = session.save(tmp_path / "ckpt.pt")
    ref = session.model_config.factory
    with pytest.raises(CheckpointError) as info:
        Session.load(path)
    assert info.value.message == (
        f"{path} holds a model built by {ref}; torchdeck never imports code because a "
        "checkpoint names it"
    )
    assert info.value.hint == f"load it with --model {ref} (the file you trust)"
    loaded = Session.load(path, factory=ref)
    assert loaded.describe().notes is None and loaded.trainer.step == 3
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(loaded.model(ids), session.model(ids))


def test_a_changed_file_is_noted_and_a_misfit_one_refused(tmp_path, corpus_file):
    session = own(tmp_path, corpus_file)
    path = session.save(tmp_path / "ckpt.pt")
    ref = session.model_config.factory
    file = tmp_path / "my_model.py"
    file.write_text(GOOD + "# a comment\n")
    notes = Session.load(path, factory=ref).describe().notes
    assert len(notes) == 1 and notes[0].startswith(f"{file} has changed since this checkpoint")
    file.write_text(GOOD.replace("Tiny(vocab_size, 8)", "Tiny(vocab_size, 6)"))
    with pytest.raises(CheckpointError, match=rf"checkpoint weights do not fit {ref}: "):
        Session.load(path, factory=ref)


def test_load_args_carry_the_factory():
    assert LoadArgs("x.pt", factory="m.py:build").to_dict()["factory"] == "m.py:build"


# -- after the trial passes (a hostile review's cases) -----------------------------------------

LATER = GOOD.replace(
    "    def forward(self, ids):\n",
    "    calls = 0\n\n    def forward(self, ids):\n"
    "        Tiny.calls += 1\n"
    "        if Tiny.calls > 2:\n"
    "            raise SystemExit('bye from forward')\n",
)


def test_an_exit_in_forward_while_training_is_an_error_naming_the_file(tmp_path, corpus_file):
    session = own(tmp_path, corpus_file, LATER)  # the two trial passes go through
    with pytest.raises(ModelFileError) as info:
        session.trainer.run_steps(1)
    message = info.value.message
    assert message.startswith("Tiny.forward in my_model.py raised SystemExit: bye from forward")
    assert message.endswith("(my_model.py line 15)")


def test_a_model_without_parameters_is_refused(tmp_path):
    body = "import torch\nimport torch.nn as nn\n\ndef build(vocab_size, block_size):\n    return nn.Identity()\n"
    assert refusal(tmp_path, body).endswith(
        "build(vocab_size=5, block_size=4) returned an Identity with no parameters: nothing to train"
    )


def test_the_trial_passes_include_train_mode_and_one_character(tmp_path):
    body = GOOD.replace(
        "return self.output(self.embedding(ids))",
        "out = self.output(self.embedding(ids))\n        return {'logits': out} if self.training else out",
    )
    assert (
        refusal(tmp_path, body)
        == "Tiny.forward in my_model.py (train mode) returned a dict, not a tensor of logits"
    )
    fixed_length = GOOD.replace(
        "return self.output(self.embedding(ids))",
        "return self.output(self.embedding(ids)).expand(ids.shape[0], 4, -1)",
    )
    assert refusal(tmp_path, fixed_length).startswith(
        "Tiny.forward in my_model.py (train mode) gave logits of shape [1, 4, 5] for ids of shape [1, 1]"
    )


def test_loading_notes_what_the_person_should_know(tmp_path, corpus_file, make_session):
    session = own(tmp_path, corpus_file)
    path = session.save(tmp_path / "ckpt.pt")
    other = write(tmp_path, GOOD, "other.py") + ":build"
    notes = Session.load(path, factory=other).describe().notes
    assert notes == [
        f"this checkpoint was built by {session.model_config.factory}; its weights go into {other}"
    ]
    wider = write(tmp_path, GOOD.replace("Tiny(vocab_size, 8)", "Tiny(vocab_size, 6)"), "wider.py")
    with pytest.raises(CheckpointError) as info:
        Session.load(path, factory=wider + ":build")
    assert "size mismatch for embedding.weight" in info.value.message
    assert info.value.hint.endswith(
        f"name the factory it was built by ({session.model_config.factory})"
    )
    preset = make_session("mini", corpus_file).save(tmp_path / "preset.pt")
    loaded = Session.load(preset, factory=other)
    assert loaded.describe().notes == [
        f"--model {other} is not used: the checkpoint holds a mini model"
    ]
