"""The engine's ops for reading the language model: the next-character distribution of a text,
the layers whose activations can be shown, what happens inside the model for a text (explain),
streamed generation, and cancelling it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.contract import (
    CancelArgs,
    ExplainArgs,
    ExplainResult,
    GenerateArgs,
    GenerateResult,
    LayersResult,
    PredictArgs,
    PredictResult,
)
from core.errors import ConfigError
from core.i18n import _


@contextmanager
def one_thread(device) -> Iterator[None]:
    """One CPU thread for a single text's forward pass, the engine's own count restored after.
    Measured on 2 cores (gpt, 84 characters): the round trip of a prediction asked while the
    app paints a keystroke's echo took 17–19 ms with 2 threads, as the OpenMP worker fought the
    app for the cores, and 8.5–9.5 ms with one; idle, 5.7 and 4.7 ms. Training between requests
    keeps its threads (the engine runs one thing at a time)."""
    if getattr(device, "type", str(device)) != "cpu":  # a torch.device or its name
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def engine_ops(engine) -> dict:
    def require_lm():
        s = engine.require_session()
        if not s.is_language_model:
            raise ConfigError(
                _("the {preset} preset is not a language model").format(preset=s.preset),
                _("configure mini, mlp or gpt to predict text"),
            )
        return s

    def op_predict(args: PredictArgs) -> PredictResult:
        from core.predict import predict

        s = require_lm()
        # checked as the explain op checks its own (RequestError naming the argument), first
        wanted = None
        if args.explain is not None:
            wanted = ExplainArgs.from_args("predict explain", {**args.explain, "text": args.text})
        with one_thread(s.device):
            # with an explanation, its forward pass gives the logits the prediction reads
            # (one pass, not two), unless the math or a layer's activations need their hooks
            found = logits = None
            if wanted is not None:
                kept: list = []
                found = _explain(s, wanted, kept)
                logits = kept[0] if kept and not (args.math or args.layer) else None
            result = predict(
                s.model,
                s.tokenizer,
                args.text,
                s.block_size,
                s.device,
                args,
                k=args.k,
                math_view=args.math,
                layer=args.layer,
                units=args.units,
                positions=args.positions,
                logits=logits,
            )
            if found is not None:
                result["explain"] = found.to_dict()
        return PredictResult.from_dict({**result, "step": s.trainer.step})

    def _explain(s, args: ExplainArgs, logits_out: list | None = None) -> ExplainResult:
        from core.explain import explain

        found = explain(s.model, s.tokenizer, args.text, s.block_size, s.device, args, logits_out)
        return ExplainResult.from_dict({**found, "step": s.trainer.step})

    def op_explain(args: ExplainArgs) -> ExplainResult:
        """Inside the model for a text: attention, logit lens, attribution, neighbours."""
        s = require_lm()
        with one_thread(s.device):
            return _explain(s, args)

    def op_predict_layers(args: dict) -> LayersResult:
        from core.predict import activation_layers, output_layer

        s = require_lm()
        return LayersResult(activation_layers(s.model, s.device), output_layer(s.model)[0])

    def op_generate(args: GenerateArgs) -> GenerateResult:
        from core.predict import generate

        s = require_lm()
        chars: list[str] = []
        me = engine.current_id
        key = engine.current_key
        stopped = False
        try:
            for ch in generate(
                s.model,
                s.tokenizer,
                args.prompt,
                args.max_new,
                s.block_size,
                s.device,
                args,
                seed=args.seed,
            ):
                if key in engine.cancelled:
                    stopped = True
                    break
                chars.append(ch)
                if args.stream:
                    engine.event("generate_token", id=me, char=ch, index=len(chars) - 1)
        except KeyboardInterrupt:
            engine.interruptible = False
            engine.event("generate_stopped", id=me, text="".join(chars))
            raise
        finally:
            engine.cancelled.discard(key)
        if stopped:
            engine.event("generate_stopped", id=me, text="".join(chars))
        return GenerateResult("".join(chars), s.trainer.step, stopped)

    def op_cancel(args: CancelArgs) -> dict:
        """Stop generate request ``id`` (the reader thread already flagged it; by the time this
        reply is sent, that generation has ended)."""
        engine.cancelled.discard((engine.current_key[0], args.id))
        return {"id": args.id}

    return {
        "predict": (op_predict, PredictArgs),
        "predict_layers": (op_predict_layers, {}),
        "explain": (op_explain, ExplainArgs),
        "generate": (op_generate, GenerateArgs),
        "cancel": (op_cancel, CancelArgs),
    }
