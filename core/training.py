"""The training loop, written out as the five steps of the course (LESSONS.md L2).

Works without a UI. One step is:

1. ``optimizer.zero_grad()``  — gradients accumulate by default, so clear them;
2. forward pass and loss;
3. ``loss.backward()``        — fill every parameter's ``.grad``;
4. ``optimizer.step()``       — move the weights against their gradients;
5. monitor                    — keep the loss (on the device: no sync per step) for the report.

The loss is read back (``.item()``/``.tolist()``, a device sync) only when a report is due.
"""

from __future__ import annotations

import contextlib
import math
import time

import torch
import torch.nn as nn

from core import device as devices
from core.compiled import StepCompiler
from core.contract import StepDetail
from core.data import CorpusData
from core.errors import ConfigError
from core.history import LossHistory
from core.i18n import _
from core.metric_log import MetricLog
from core.models import Parabola, with_loss
from core.optim import TrainConfig, fused_ok, lr_at, make_optimizer, make_train_config

__all__ = ["TrainConfig", "Trainer", "fused_ok", "lr_at", "make_optimizer", "make_train_config"]


class Trainer:
    """Owns the optimizer, the schedule, the batch generator and the loss history of a model.

    With ``dist`` (a job of several ranks, ``core.distributed``) the model is wrapped in
    DistributedDataParallel: every rank draws the same global batch positions from the one
    seeded generator and takes its own slice of them, so the samples of a step do not depend
    on the world size, and a run resumes on any number of ranks."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        data: CorpusData | None,
        block_size: int,
        device: torch.device,
        dist=None,
    ) -> None:
        self.model = model
        self.config = config
        self.data = data
        self.block_size = block_size
        self.device = device
        self.dist = dist
        self.world = dist.world_size if dist is not None else 1
        self.rank = dist.rank if dist is not None else 0
        self.is_parabola = isinstance(model, Parabola)
        # the arithmetic of a step (auto: bf16 where the device computes it natively); the
        # parabola's one float stays float32, its figures are the seed's exact ones
        self.dtype, wanted = devices.train_speed(
            device, config.precision, config.compile, model, config.batch_size * block_size
        )
        if self.is_parabola:
            self.dtype, wanted = torch.float32, False
        self.compiler = StepCompiler(wanted)
        self.accum = config.grad_accum or self.world  # micro-batches per step, all ranks
        self._check_world()
        self.local_accum = self.accum // self.world
        self.optimizer = make_optimizer(model, config)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.train_history = LossHistory()
        self.val_history = LossHistory(1024)
        self.tokens_per_step = (
            0 if self.is_parabola else config.batch_size * self.accum * block_size
        )
        self._pending_loss: list[torch.Tensor] = []
        self._pending_norm: list[torch.Tensor] = []
        self._pending_val: list[tuple[int, float]] = []  # (step, loss) of each evaluation
        self._pending_s: list[float] = []  # each step's seconds on the host clock
        self._mark: float | None = None  # when the step's time began (None: at the next step)
        self.log = MetricLog()
        self._last_grad_norm: float | None = None
        self._last_loss: float | None = None
        self.last_val: float | None = None
        self.diverged: str | None = None
        # this rank's own work of each step since the last report: (start, end) on the host
        # clock, or CUDA events (the host only queues a GPU's work; the events time it)
        self._timed: list[tuple] = []
        self.saved_layout: tuple = (None, 1)  # (global batch, world size) of the checkpoint
        self._step_s = 0.0  # seconds per step lately (a rank-0 slice's length is steps)
        # for the report's detail of its latest step (core.report): steps this trainer took
        # (not a checkpoint's), and the last step taken by hand, read in full
        self.steps_taken = 0
        self.hand_detail: StepDetail | None = None
        if data is not None:
            data.check_block_size(block_size)
        self._net = model if self.world == 1 else None
        if device.type == "cuda":  # mem_peak_mb counts from this model's start
            torch.cuda.reset_peak_memory_stats(device)

    @property
    def net(self) -> nn.Module:
        """The model as training calls it: in a job, wrapped in DDP at the first step (every
        rank takes it together), so building a session runs no collective: a rank that fails
        to build one leaves the others waiting on nothing (``core.follower`` agrees after)."""
        if self._net is None:
            from core.distributed import wrap

            self._net = wrap(self.model, self.device)
            if self.rank:  # dropout draws differ by rank, reproducibly
                torch.manual_seed(self.config.seed + self.rank)
        return self._net

    def fingerprint(self) -> str:
        """What every rank of a job must hold alike (``core.follower`` compares them)."""
        from core.distributed import holdings

        return holdings(self.model, self.data)

    def _check_world(self) -> None:
        if self.world > 1 and self.is_parabola:
            raise ConfigError(
                _("the parabola preset has no data to split over ranks"),
                _("train it with one process (no --nproc-per-node)"),
            )
        if self.accum % self.world:
            raise ConfigError(
                _("grad_accum {accum} does not split evenly over {world} ranks").format(
                    accum=self.accum, world=self.world
                ),
                _(
                    "give a multiple of {world} (each rank runs grad_accum / ranks "
                    "micro-batches), or 0 for one per rank"
                ).format(world=self.world),
            )

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps

    def _batches(self) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
        """This rank's micro-batches of the next step: its slices of one global draw."""
        if self.is_parabola:
            return [(None, None)] * self.local_accum
        if self.data is None:
            raise ConfigError(
                _("no training text is loaded for this model"),
                _("configure a corpus (the one the checkpoint was trained on could not be read)"),
            )
        b = self.config.batch_size
        starts = self.data.starts("train", b * self.accum, self.block_size, self.generator)
        nb = self.device.type == "cuda"
        out = []
        for m in range(self.local_accum):
            j = m * self.world + self.rank  # micro-batch j of the step is rank j % world's
            x, y = self.data.windows("train", starts[j * b : (j + 1) * b], self.block_size)
            if nb:  # from page-locked memory the copy runs beside the GPU's work, not before it
                x, y = x.pin_memory(), y.pin_memory()
            out.append((x.to(self.device, non_blocking=nb), y.to(self.device, non_blocking=nb)))
        return out

    def _grad_norm(self) -> torch.Tensor:
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return torch.zeros((), device=self.device)
        if self.config.grad_clip > 0:
            return torch.nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
        return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))

    def restart_clock(self) -> None:
        """The next step's time starts with it, not at the last one's end (after a pause)."""
        self._mark = None

    def _begin_step(self) -> float:
        if self._mark is None:
            self._mark = time.perf_counter()
        lr = lr_at(self.config, self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        return lr

    def _forward_backward(self) -> torch.Tensor:
        """Steps 2 and 3 over this rank's micro-batches: each loss scaled by 1/micro-batches,
        so the gradients add up to the mean; DDP averages them over ranks on the last one
        only (``no_sync`` before it). Returns the step's loss, the micro-batches' mean."""
        batches = self._batches()
        if len(batches) == 1 and self.world == 1:  # the common case: the five steps as taught
            x, y = batches[0]
            with devices.autocast(self.device, self.dtype):
                # 2. forward, loss
                _logits, loss = with_loss(self.compiler.module(self.model))(x, y)
            loss.backward()  # 3. d(loss)/d(parameter) into .grad
            return loss.detach()
        total = None
        started = self._clock()
        for m, (x, y) in enumerate(batches):
            last = m == len(batches) - 1
            quiet = self.world > 1 and not last
            with self.net.no_sync() if quiet else contextlib.nullcontext():
                with devices.autocast(self.device, self.dtype):
                    # 2. forward, loss
                    _logits, loss = with_loss(self.compiler.module(self.net))(x, y)
                if self.world > 1 and last:  # what this rank did alone, before it waits
                    self._timed.append((started, self._clock()))
                (loss / len(batches)).backward()  # 3. d(loss)/d(parameter) into .grad
            loss = loss.detach()
            total = loss if total is None else total + loss
        return total / len(batches)

    def _clock(self):
        if self.device.type != "cuda" or self.world == 1:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    # Gradients on for the step whatever the global mode is: a playground cell that ran
    # torch.set_grad_enabled(False), or a SIGINT landing inside a no_grad block's entry, would
    # otherwise leave it off and every later step would fail in backward().
    def train_step(self) -> None:
        """One optimizer step; no device sync. The loss waits on the device for the report.
        The first one compiles the forward pass, where the run compiles (``core.compiled``)."""
        if self.compiler.pending:
            self.compiler.first_step(self, self._train_step)
        else:
            self._train_step()

    @torch.enable_grad()
    def _train_step(self) -> None:
        self._begin_step()
        # 1. clear the gradients left by the previous step
        self.optimizer.zero_grad(set_to_none=True)
        # 2. and 3. forward pass, loss, backward (over the micro-batches, if several)
        loss = self._forward_backward()
        grad_norm = self._grad_norm()  # clips too, when grad_clip > 0
        # 4. update the weights
        self.optimizer.step()
        # 5. monitor: keep the loss, read it later
        self._end_step(loss, grad_norm)

    @torch.enable_grad()
    def train_step_detailed(self) -> StepDetail:
        """The same five steps, reading each one's result back (syncs; for one step at a time)."""
        self.restart_clock()  # the time since the last step was a person's, not the model's
        lr = self._begin_step()
        cleared = sum(1 for p in self.params if p.grad is not None)
        self.optimizer.zero_grad(set_to_none=True)  # 1
        loss = self._forward_backward()  # 2, 3
        raw_norm = self._grad_norm()
        grad_norm = raw_norm.item()
        parabola = self.model.state_report() if self.is_parabola else None
        before = [p.detach().clone() for p in self.params]
        self.optimizer.step()  # 4
        update = math.sqrt(
            sum(float((p.detach() - b).float().pow(2).sum()) for p, b in zip(self.params, before))
        )
        self._end_step(loss, raw_norm)  # 5
        if parabola is not None:
            parabola["x_after"] = self.model.x.detach().item()
        self.hand_detail = StepDetail(
            step=self.step,
            lr=lr,
            grads_cleared=cleared,
            loss=loss.item(),
            grad_norm=grad_norm,
            clipped=self.config.grad_clip > 0 and grad_norm > self.config.grad_clip,
            update_norm=update,
            history_len=len(self.train_history) + len(self._pending_loss),
            kept=len(self._pending_loss),
            parabola=parabola,
        )
        return self.hand_detail

    def _end_step(self, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        """Step 5, monitor: keep the loss and gradient norm on the device; evaluate when due."""
        self.step += 1
        self.steps_taken += 1
        self._pending_loss.append(loss.detach())
        self._pending_norm.append(grad_norm.detach())
        self._pending_s.append(time.perf_counter() - self._mark)
        if self.config.eval_interval and (
            self.step % self.config.eval_interval == 0 or self.step == self.config.steps
        ):
            self._pending_val.append((self.step, self.evaluate()))
        self._mark = time.perf_counter()  # an evaluation's time is not a step's

    def run_for(self, seconds: float, should_stop=None) -> int:
        """Run whole steps until ``seconds`` have passed, the run is done, or ``should_stop()``
        says so (checked between steps); returns the number of steps run. In a job of several
        ranks the number of steps is fixed first, from the recent pace (every rank runs it)."""
        if self.world > 1:
            if self.done or (should_stop and should_stop()):
                return 0
            n = 1 if not self._step_s else max(1, int(seconds / self._step_s))
            return self.run_steps(min(n, self.config.steps - self.step))
        deadline = time.perf_counter() + seconds
        n = 0
        while not self.done and not (should_stop and should_stop()):
            self.train_step()
            n += 1
            if time.perf_counter() >= deadline:
                break
        return n

    def run_steps(self, n: int) -> int:
        """Exactly ``n`` steps (fewer if the run ends); rank 0 tells the other ranks first."""
        if self.dist is not None:
            self.dist.announce("steps", n)
            self.dist.check()  # a rank gone: no step can be taken
        started = time.perf_counter()
        done = 0
        try:
            while done < n and not self.done:
                self.train_step()
                done += 1
        except Exception as exc:
            if self.dist is None:
                raise
            # the other ranks are left inside this step's collectives: the job is over
            raise self.dist.failed(exc) from exc
        if done:
            self._step_s = (time.perf_counter() - started) / done
        return done

    def evaluate(self) -> float:
        """Mean validation loss over ``eval_batches`` fixed batches (``core.evaluation``)."""
        from core.evaluation import validation_loss

        value = validation_loss(self)
        if not self.is_parabola:
            self.last_val = value
        return value

    def flush(self, final: bool = False) -> dict | None:
        """The report of the steps since the last one (``core.report.flush``)."""
        from core.report import flush

        return flush(self, final)

    # -- checkpoint state ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout draws from it
            "train_history": self.train_history.to_dict(),
            "val_history": self.val_history.to_dict(),
            "last_val": self.last_val,
            "world_size": self.world,  # with the global batch, for a resume to compare
            "global_batch": self.config.batch_size * self.accum,
            "metric_log": self.log.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        if not fused_ok(self.params):  # saved where the fused kernel ran, loaded where not
            for group in self.optimizer.param_groups:
                if group.get("fused"):
                    group["fused"] = None
        self.generator.set_state(state["generator"])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        self.train_history = LossHistory.from_dict(state["train_history"])
        self.val_history = LossHistory.from_dict(state["val_history"])
        self.last_val = state.get("last_val")
        self.log.load_state_dict(state.get("metric_log"))
        self.saved_layout = (state.get("global_batch"), state.get("world_size", 1))
