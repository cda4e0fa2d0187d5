"""The bare loop: an ordinary PyTorch training loop, the yardstick the engine is held to.

Imports torch only when a loop is built."""

from __future__ import annotations

import time

from core.contract.settings import GPT


class BareLoop:
    """A plain PyTorch training loop for the gpt preset: the yardstick the engine is held to.

    Same model class and initialisation, corpus, batch, context, AdamW with the same groups and
    betas, learning-rate schedule, gradient clipping and seed as the engine's trainer; written
    out as a person would, keeping the loss on the device (no sync per step). By default it
    computes as the engine's defaults do (its precision, compiled on a GPU); with
    ``precision="fp32", compile=False`` it is the plain eager loop ``speedup_vs_eager`` divides
    by."""

    def __init__(
        self,
        model: dict,
        train: dict,
        threads: int,
        device: str = "cpu",
        precision: str = "auto",
        compile: bool | None = None,
    ) -> None:
        import torch

        from core import device as devices
        from core.data import load_data
        from core.models import build_model, make_config
        from core.training import lr_at, make_train_config

        self.settings = (model, train, threads, device)  # another loop on the same ones
        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.lr_at = lr_at
        self.device = torch.device(device)
        self.data = load_data(None)
        self.config = make_train_config(GPT, **train)
        model_config = make_config(GPT, **{**model, "vocab_size": self.data.tokenizer.vocab_size})
        self.block_size = model_config.block_size
        self.tokens_per_step = self.config.batch_size * self.block_size
        torch.manual_seed(self.config.seed)
        self.model = build_model(GPT, model_config).to(self.device)
        params = list(self.model.parameters())
        self.params = params
        self.optimizer = torch.optim.AdamW(
            [
                {
                    "params": [p for p in params if p.dim() >= 2],
                    "weight_decay": self.config.weight_decay,
                },
                {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
            ],
            lr=self.config.lr,
            betas=(self.config.beta1, self.config.beta2),
            fused=self.device.type in ("cpu", "cuda") or None,
        )  # one kernel for all updates
        # resolved as the engine resolves them (core.device.train_speed), or plain fp32 eager
        self.dtype, wanted = devices.train_speed(
            self.device, precision, compile, self.model, self.tokens_per_step
        )
        self.forward = torch.compile(self.model) if wanted else self.model
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.train_ids = self.data.train
        self.step = 0
        self.losses: list = []

    def _batch(self):
        torch = self.torch
        starts = torch.randint(
            len(self.train_ids) - self.block_size,
            (self.config.batch_size,),
            generator=self.generator,
        )
        windows = self.train_ids[starts[:, None] + torch.arange(self.block_size + 1)]
        cuda = self.device.type == "cuda"
        if cuda:
            windows = windows.pin_memory()
        return (
            windows[:, :-1].to(self.device, non_blocking=cuda),
            windows[:, 1:].to(self.device, non_blocking=cuda),
        )

    def run(self, seconds: float) -> tuple[int, float]:
        """Train for about ``seconds``; return (steps, elapsed) measured after the device
        finished them."""
        from core import device as devices

        torch = self.torch
        self.model.train()
        started = time.perf_counter()
        deadline = started + seconds
        steps = 0
        while True:
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.config, self.step)
            x, y = self._batch()
            self.optimizer.zero_grad(set_to_none=True)
            with devices.autocast(self.device, self.dtype):
                _, loss = self.forward(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
            self.optimizer.step()
            self.losses.append(loss.detach())
            self.step += 1
            steps += 1
            if len(self.losses) >= 256:
                self.losses = [torch.stack(self.losses).mean()]
            if time.perf_counter() >= deadline:
                break
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return steps, time.perf_counter() - started

    def tokens_per_s(self, warmup: float, window: float) -> float:
        self.run(warmup)
        steps, elapsed = self.run(window)
        return steps * self.tokens_per_step / elapsed
