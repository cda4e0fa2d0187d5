"""A run's precision (bf16 autocast where the device computes it natively) and torch.compile of
its training step: what each setting resolves to, that a compiled step trains as the eager one
does, that a failed compile goes on eager from the same batch, and the ``compile`` events."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from core import device as devices
from core.compiled import StepCompiler, one_line
from core.contract import CompileState, SessionInfo, TrainSettings
from core.errors import ConfigError, RequestError
from core.models import CausalSelfAttention, GPTConfig


def test_precision_resolves_per_device(monkeypatch):
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert devices.train_dtype(cpu, "fp32") == torch.float32
    assert devices.train_dtype(cpu, "bf16") == torch.bfloat16  # asked for: even emulated
    monkeypatch.setattr(devices, "cpu_bf16_native", lambda: True)
    assert devices.train_dtype(cpu, "auto") == torch.bfloat16
    # a step too small to pay for the casts stays float32, unless bf16 is asked for
    small, big = devices.BF16_MIN_STEP_FLOPS - 1, devices.BF16_MIN_STEP_FLOPS
    assert devices.train_dtype(cpu, "auto", small) == torch.float32
    assert devices.train_dtype(cpu, "auto", big) == torch.bfloat16
    assert devices.train_dtype(cpu, "bf16", small) == torch.bfloat16
    monkeypatch.setattr(devices, "cpu_bf16_native", lambda: False)
    assert devices.train_dtype(cpu, "auto") == torch.float32  # AVX2 only: bf16 is slower
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert devices.train_dtype(gpu, "auto") == torch.float32  # a pre-Ampere GPU
    with pytest.raises(ConfigError, match="precision bf16 is not supported by this GPU") as e:
        devices.train_dtype(gpu, "bf16")
    assert "--precision fp32" in e.value.hint
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devices.train_dtype(gpu, "auto") == torch.bfloat16
    assert devices.train_dtype(gpu, "auto", small) == torch.float32
    assert devices.train_dtype(gpu, "fp32") == torch.float32


def test_auto_weighs_the_steps_size(make_session, corpus_file, monkeypatch):
    monkeypatch.setattr(devices, "cpu_bf16_native", lambda: True)
    # the tests' tiny gpt: 6 x 16,576 parameters x 8 x 16 tokens = 12.7 MFLOP a step
    tiny = make_session("gpt", corpus_file)
    assert tiny.trainer.dtype == torch.float32 and tiny.describe().precision == "fp32"
    # the preset's own size at batch 32 x context 64 (10 GFLOP a step)
    full = make_session(
        "gpt",
        corpus_file,
        model={"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64},
        batch_size=32,
    )
    assert full.trainer.dtype == torch.bfloat16 and full.describe().precision == "bf16"


def test_precision_and_compile_are_checked_settings():
    assert TrainSettings().precision == "auto" and TrainSettings().compile is None
    with pytest.raises(ConfigError, match="precision.*one of auto, fp32, bf16"):
        TrainSettings(precision="fp16").validate()
    with pytest.raises(RequestError, match="'compile' must be true or false, got 'yes'"):
        TrainSettings.from_args("configure", {"compile": "yes"})


def test_a_session_says_what_its_steps_compute_in(make_session, corpus_file):
    for precision, shown in (("fp32", "fp32"), ("bf16", "bf16")):
        session = make_session("gpt", corpus_file, precision=precision)
        info = session.describe()
        assert (info.precision, info.compile) == (shown, False)  # no compile on a CPU by default
        assert SessionInfo.parse(info.to_dict()).precision == shown
    assert make_session("gpt", corpus_file, compile=True).describe().compile is True
    # the parabola's one float stays float32 whatever is asked: its figures are the seed's
    parabola = make_session("parabola", precision="bf16", compile=True)
    assert parabola.trainer.dtype == torch.float32 and not parabola.trainer.compiler.wanted


def test_bf16_steps_train_and_match_fp32_closely(make_session, corpus_file):
    losses = {}
    for precision in ("fp32", "bf16"):
        session = make_session("gpt", corpus_file, precision=precision, steps=30)
        for _ in range(30):
            session.trainer.train_step()
        losses[precision] = session.trainer.flush(final=True)["loss"]
    assert losses["bf16"] == pytest.approx(losses["fp32"], abs=0.05)
    assert losses["bf16"] < 2.5  # it learned: the start is ln(vocab) ≈ 2.9


def test_cpu_attention_runs_in_float32_under_bf16_autocast(monkeypatch):
    """On a CPU, bf16 attention's backward is slower than float32's: the products around it
    run in bf16, attention itself in float32, and its output comes back as bf16."""
    seen = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append((q.dtype, torch.is_autocast_enabled("cpu")))
        return real(q, k, v, **kw)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    attn = CausalSelfAttention(GPTConfig(n_embd=16, n_head=2))
    x = torch.randn(2, 8, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = attn(x)
    assert seen == [(torch.float32, False)]
    assert y.dtype == torch.bfloat16
    seen.clear()
    assert attn(x).dtype == torch.float32 and seen == [(torch.float32, False)]


def test_compiled_step_trains_exactly_as_the_eager_one(make_session, corpus_file):
    eager = make_session("gpt", corpus_file, precision="fp32")
    compiled = make_session("gpt", corpus_file, precision="fp32", compile=True)
    compiled.trainer.compiler.backend = "eager"  # dynamo's tracing, without code generation
    heard = []
    compiled.trainer.compiler.notify = heard.append
    for _ in range(3):
        eager.trainer.train_step()
        compiled.trainer.train_step()
    assert [(s.state, s.step) for s in heard] == [("started", 0), ("done", 0)]
    assert heard[1].seconds > 0 and round(compiled.trainer.compiler.seconds, 2) == heard[1].seconds
    assert compiled.trainer.compiler.compiled is not None
    for a, b in zip(eager.model.parameters(), compiled.model.parameters()):
        assert torch.equal(a, b)
    assert compiled.trainer.flush()["loss"] == eager.trainer.flush()["loss"]


def test_a_failed_compile_goes_on_eager_from_the_same_batch(make_session, corpus_file):
    def broken(gm, inputs):
        raise RuntimeError("no C compiler found\n(the rest of a long trace)")

    eager = make_session("gpt", corpus_file, precision="fp32", model={"dropout": 0.2})
    failing = make_session(
        "gpt", corpus_file, precision="fp32", model={"dropout": 0.2}, compile=True
    )
    failing.trainer.compiler.backend = broken
    heard = []
    failing.trainer.compiler.notify = heard.append
    for trainer in (eager.trainer, failing.trainer):  # dropout draws from torch's generator
        torch.manual_seed(5)
        for _ in range(3):
            trainer.train_step()
    assert [s.state for s in heard] == ["started", "failed"]
    message = heard[1].message
    assert message.startswith("torch.compile failed (")
    assert "no C compiler found" in message and "rest of a long trace" not in message
    assert "training goes on eager" in message and "--no-compile" in message
    assert not failing.trainer.compiler.pending  # never tried again
    assert failing.trainer.step == 3
    # the retry drew the same batch and the same dropout masks: the runs are the same
    for a, b in zip(eager.model.parameters(), failing.model.parameters()):
        assert torch.equal(a, b)


def test_one_line_keeps_the_first_line_of_a_long_error():
    assert one_line(RuntimeError("first\nsecond")) == "RuntimeError: first"
    assert one_line(ValueError()) == "ValueError"
    assert len(one_line(RuntimeError("x" * 1000))) == len("RuntimeError: ") + 200
    wrapped = RuntimeError("backend failed:\nmore")
    wrapped.__cause__ = OSError("cc not found\ndetails")
    assert one_line(wrapped) == "RuntimeError: backend failed: ← OSError: cc not found"
    # inductor's wrapper repeats its cause's words: said once
    wrapped = RuntimeError("OSError: No working C++ compiler found")
    wrapped.__cause__ = OSError("No working C++ compiler found")
    assert one_line(wrapped) == "RuntimeError: OSError: No working C++ compiler found"


def test_inductors_cache_goes_under_the_users_cache_folder(monkeypatch, tmp_path):
    from core.compiled import use_cache_dir

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    use_cache_dir()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "torchdeck" / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/elsewhere")  # the person's choice wins
    use_cache_dir()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == "/elsewhere"


def test_compiler_backend_from_the_environment(monkeypatch):
    monkeypatch.setenv("TORCHDECK_COMPILE_BACKEND", "aot_eager")
    assert StepCompiler(True).backend == "aot_eager"
    monkeypatch.delenv("TORCHDECK_COMPILE_BACKEND")
    assert StepCompiler(True).backend == "inductor"


def test_a_checkpoint_keeps_its_precision_and_a_resume_may_change_it(
    make_session, corpus_file, tmp_path
):
    from core.session import Session

    session = make_session("gpt", corpus_file, precision="bf16", compile=False)
    session.trainer.train_step()
    path = session.save(str(tmp_path / "run.pt"))
    again = Session.load(path, device="cpu", corpus=str(corpus_file))
    assert again.trainer.dtype == torch.bfloat16 and again.train_config.compile is False
    changed = Session.load(
        path, device="cpu", corpus=str(corpus_file), train={"precision": "fp32", "compile": True}
    )
    assert changed.trainer.dtype == torch.float32 and changed.trainer.compiler.wanted
    assert changed.trainer.step == 1


def test_a_headless_run_says_each_compile_state_in_one_line():
    from cli.records import compile_line, speed_words

    started = compile_line(CompileState("started", 0).to_dict())
    assert started.startswith("compiling the training step (torch.compile) at step 0")
    assert compile_line(CompileState("done", 0, 34.84).to_dict()) == (
        "compiled in 34.8 s; training goes on compiled"
    )
    failed = CompileState("failed", 0, 1.0, "torch.compile failed (X); training goes on eager")
    assert compile_line(failed.to_dict()) == f"warning: {failed.message}"
    assert speed_words(SessionInfo(precision="bf16", compile=True)) == "bf16 · compiled"
    assert speed_words(SessionInfo(precision="fp32")) == "fp32"
