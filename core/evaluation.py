"""The validation loss of a run: the same fixed batches every time, split over the ranks of a
job as training splits a step's batch. Works without a UI."""

from __future__ import annotations

import torch

from core import device as devices
from core.errors import ConfigError
from core.i18n import _
from core.models import eval_mode, with_loss


@torch.no_grad()
def validation_loss(trainer) -> float:
    """Mean validation loss over ``eval_batches`` fixed batches (the same ones each time),
    each the size of a training step's global batch and split over the ranks as training
    splits it, so the figure does not depend on the world size."""
    if trainer.is_parabola:
        return float(trainer.model()[1])
    if trainer.data is None:
        raise ConfigError(_("no corpus loaded"), _("configure a corpus before evaluating"))
    gen = torch.Generator().manual_seed(trainer.config.seed + 1)
    total = torch.zeros((), device=trainer.device)
    b, n = trainer.config.batch_size, trainer.config.eval_batches
    with eval_mode(trainer.model):
        for _i in range(n):
            starts = trainer.data.starts("val", b * trainer.accum, trainer.block_size, gen)
            for m in range(trainer.local_accum):
                j = m * trainer.world + trainer.rank
                x, y = trainer.data.windows("val", starts[j * b : (j + 1) * b], trainer.block_size)
                with devices.autocast(trainer.device, trainer.dtype):
                    _logits, loss = with_loss(trainer.model)(
                        x.to(trainer.device), y.to(trainer.device)
                    )
                total += loss.float()
    if trainer.dist is not None:
        total = trainer.dist.total(total)
    return float(total) / (n * trainer.accum)
