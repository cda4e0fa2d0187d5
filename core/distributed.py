"""Training over several processes with ``torch.distributed``, as launched by torchrun.

Rank 0's engine is the engine every client sees: it speaks the protocol, serves ``attach`` and
writes the run's files. Every other rank runs a *follower* (``core.follower``): it holds the
same session and does what rank 0 tells it on the control channel, a gloo group of its own
with a long timeout (a paused run may wait for hours). What rank 0 tells it:

- ``("op", name, args)``: an op that changes the session (configure, load, train_start, ...);
  every rank runs it, then all of them agree on its outcome (``agree``);
- ``("steps", n)``: train n steps; each step's gradients are averaged by DDP;
- ``("flush",)``: the losses since the last report, averaged over ranks (``Trainer.flush``);
- ``("sync",)``: take rank 0's weights (a playground cell on rank 0 changed them);
- ``("exit",)``: the engine is ending; followers end too.

Rank 0 announces a collective only at the top level: inside an op that every rank runs, the
followers reach the same collectives by themselves (``in_op``).

The training collectives (DDP's all-reduce, the loss average) use the default group with a
short timeout, so a rank that hangs ends the job instead of holding it forever; a rank that
dies closes its connections and the others' next collective fails at once. Either way rank 0
names the rank (``diagnose``): each rank leaves its host and pid, and its last error, in the
job's store.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from datetime import timedelta

import torch
import torch.distributed as dist

from core.errors import TorchdeckError
from core.i18n import _
from core.placement import Placement

HEARTBEAT_S = 1.0  # each rank's sign of life in the store
DEFAULT_TIMEOUT_S = 120.0  # a training collective waiting longer than this ends the job
CONTROL_TIMEOUT = timedelta(days=30)  # followers wait this long for rank 0's next word
STORE_PREFIX = "torchdeck/"


def hint() -> str:
    """What to do once a job has lost a rank, in the current language."""
    return _(
        "the job cannot go on without every rank: rank 0 keeps the last completed step; save "
        "it, then start again (torchdeck train --resume)"
    )


_JOB: Dist | None = None


def job() -> Dist | None:
    """This process's part in a job of several ranks; None when it trains alone."""
    return _JOB


def set_job(value: Dist | None) -> None:
    global _JOB
    _JOB = value


class DistributedError(TorchdeckError):
    """The distributed job cannot go on: a rank died, hung, or failed on its own."""


class Dist:
    """One process's part in the job: its placement, the groups, the control channel."""

    def __init__(self, placement: Placement, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.placement = placement
        self.rank = placement.rank
        self.world_size = placement.world_size
        self.timeout_s = timeout_s
        self.in_op = False  # inside an op every rank runs: no announcements
        self.broken: str | None = None  # why the job cannot go on, once a collective failed
        self.control = None
        self.store = None

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def start(self) -> None:
        """Join the job: nccl for CUDA tensors where CUDA exists, gloo for CPU ones."""
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        timeout = timedelta(seconds=self.timeout_s)
        dist.init_process_group(backend, timeout=timeout)
        self.control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
        self.store = dist.distributed_c10d._get_default_store()
        self.store.set(f"{STORE_PREFIX}where/{self.rank}", f"{socket.gethostname()} {os.getpid()}")
        threading.Thread(target=self._beat, name="torchdeck-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        """A count in the store that goes up every second while this process lives and is not
        stopped: a rank whose count stands still is the one that hangs."""
        beats = 0
        while True:
            beats += 1
            try:
                self.store.set(f"{STORE_PREFIX}alive/{self.rank}", str(beats))
            except Exception:  # the store went with the job
                return
            time.sleep(HEARTBEAT_S)

    # -- the control channel -------------------------------------------------------------------

    def announce(self, *command) -> None:
        """Rank 0: tell the followers what to do next (nothing inside an op they run too). If
        they cannot hear it, the job is marked broken (``broken`` says why) and what called
        goes on alone: a report or a save still works; the next training step says why not."""
        if not self.leader or self.in_op or self.broken:
            return
        with contextlib.suppress(DistributedError):
            self._broadcast(list(command))

    def check(self) -> None:
        """Raise the job's failure, if it has one (before a step that needs every rank)."""
        if self.broken:
            raise DistributedError(self.broken, hint())

    def receive(self) -> tuple:
        """A follower: wait for rank 0's next command."""
        box = [None]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return tuple(box[0])

    def _broadcast(self, command: list) -> None:
        try:
            dist.broadcast_object_list([command], src=0, group=self.control)
        except Exception as exc:
            raise self.failed(exc) from None

    def agree(self, error: str | None, holds: str | None) -> list[tuple[int, str]]:
        """After an op every rank ran: (rank, why) for each rank that failed, or that holds
        another model or text than rank 0 (``holds``: ``Trainer.fingerprint``)."""
        outcomes: list = [None] * self.world_size
        try:
            dist.all_gather_object(outcomes, (error, holds), group=self.control)
        except Exception as exc:
            raise self.failed(exc) from None
        failed = [(rank, err) for rank, (err, _held) in enumerate(outcomes) if err is not None]
        if failed:
            return failed
        first = outcomes[0][1]
        return [
            (
                rank,
                _(
                    "it holds {got}, where rank 0 holds {first} (the same corpus file on "
                    "every machine?)"
                ).format(got=got, first=first),
            )
            for rank, (_error, got) in enumerate(outcomes)
            if got != first
        ]

    # -- one model on every rank -----------------------------------------------------------------

    @staticmethod
    @torch.no_grad()
    def fingerprint(model: torch.nn.Module) -> torch.Tensor:
        """Two sums over every weight and buffer: what a playground cell changed shows."""
        values = [t.detach().double() for t in model.state_dict().values() if t.is_floating_point()]
        if not values:
            return torch.zeros(2, dtype=torch.float64)
        return torch.stack([torch.stack([v.sum(), v.pow(2).sum()]) for v in values]).sum(0).cpu()

    def sync_if_changed(self, model: torch.nn.Module, before: torch.Tensor) -> bool:
        """Rank 0, after a playground cell: if the cell changed the model, every rank gets rank
        0's weights, so the ranks go on training one model."""
        if torch.equal(self.fingerprint(model), before) or self.broken:
            return False
        self.announce("sync")
        self.sync_model(model)
        return True

    @torch.no_grad()
    def sync_model(self, model: torch.nn.Module) -> None:
        """Every rank: take rank 0's weights and buffers."""
        try:
            for tensor in model.state_dict().values():
                dist.broadcast(tensor, src=0)
        except Exception as exc:
            raise self.failed(exc) from None

    # -- collectives of training ---------------------------------------------------------------

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of ``values`` over ranks (gloo has no AVG: a sum, divided);
        a broken job's: this rank's own."""
        summed = self.total(values)
        return summed if self.broken else summed / self.world_size

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``value`` over ranks, in place."""
        if self.broken:
            return value
        try:
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
        except Exception as exc:
            raise self.failed(exc) from None
        return value

    def gather(self, value: float) -> list[float]:
        """One number from every rank, in rank order."""
        if self.broken:
            return [value]
        mine = torch.tensor([value], dtype=torch.float64)
        parts = [torch.zeros(1, dtype=torch.float64) for _rank in range(self.world_size)]
        try:
            dist.all_gather(parts, mine)  # the default group: its timeout applies
        except Exception as exc:
            raise self.failed(exc) from None
        return [float(p) for p in parts]

    # -- failures ------------------------------------------------------------------------------

    def note_failure(self, message: str) -> None:
        """A follower's last words, for rank 0 to quote."""
        with contextlib.suppress(Exception):
            self.store.set(f"{STORE_PREFIX}failed/{self.rank}", message[:500])

    def failed(self, exc: BaseException) -> DistributedError:
        """The error a failed collective becomes: which rank broke the job, and why."""
        if isinstance(exc, DistributedError):
            return exc
        if self.broken is None:
            self.broken = self.diagnose(exc)
        return DistributedError(self.broken, hint())

    def diagnose(self, exc: BaseException) -> str:
        """Name the ranks that are gone, from the pids they left in the store. A peer's
        connection closes while its process is still exiting: look again for up to 2 s."""
        comms = _from_comms(exc)
        deadline = time.monotonic() + (2.0 if comms else 0.0)
        while True:
            said, dead = self._gone()
            if said or dead or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if said:
            return "; ".join(said)
        if dead:
            return _("{ranks} died; the job stopped at its next collective").format(
                ranks=", ".join(dead)
            )
        hung = self._hung() if comms else []
        if hung:
            return _(
                "{ranks} stopped answering (no heartbeat for {silent} s; stopped, or stuck); "
                "the job waited {waited} s"
            ).format(
                ranks=", ".join(hung), silent=f"{3 * HEARTBEAT_S:g}", waited=f"{self.timeout_s:g}"
            )
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if not comms:  # this rank's own failure (out of memory, a bug)
            return _("rank {rank} failed: {error_type}: {error}").format(
                rank=self.rank, error_type=type(exc).__name__, error=first
            )
        if self.rank != 0:
            return _("rank {rank} lost the job's other ranks: {error}").format(
                rank=self.rank, error=first
            )
        return _("a rank stopped answering (no rank on this host is gone): {error}").format(
            error=first
        )

    def _hung(self) -> list[str]:
        """The other ranks whose heartbeat stands still over three beats (no clocks compared:
        the machines' clocks may differ)."""
        others = [r for r in range(self.world_size) if r != self.rank]
        before = {r: self._read(f"alive/{r}") for r in others}
        time.sleep(3 * HEARTBEAT_S)
        out = []
        for r in others:
            if self._read(f"alive/{r}") == before[r]:
                where = self._read(f"where/{r}")
                host, _sep, pid = where.partition(" ")
                out.append(
                    _("rank {rank} (pid {pid} on {host})").format(rank=r, pid=pid, host=host)
                    if pid
                    else _("rank {rank}").format(rank=r)
                )
        return out

    def _gone(self) -> tuple[list[str], list[str]]:
        """(what failed ranks said, the ranks on this host whose process is gone)."""
        here = socket.gethostname()
        dead, said = [], []
        for rank in range(self.world_size):
            if rank == self.rank:
                continue
            words = self._read(f"failed/{rank}")
            if words:
                said.append(_("rank {rank} failed: {error}").format(rank=rank, error=words))
            where = self._read(f"where/{rank}")
            if where:
                host, _sep, pid = where.partition(" ")
                if host == here and pid.isdigit() and not _alive(int(pid)):
                    dead.append(_("rank {rank} (pid {pid})").format(rank=rank, pid=pid))
        return said, dead

    def _read(self, key: str) -> str:
        try:
            self.store.set_timeout(timedelta(seconds=1))
            if not self.store.check([STORE_PREFIX + key]):
                return ""
            return self.store.get(STORE_PREFIX + key).decode("utf-8", "replace")
        except Exception:  # the store went with rank 0's agent
            return ""


def _from_comms(exc: BaseException) -> bool:
    """Whether ``exc`` came from the job's connections (a peer gone or too slow)."""
    if isinstance(exc, getattr(dist, "DistBackendError", ())) or isinstance(exc, TimeoutError):
        return True
    text = str(exc).lower()
    return any(word in text for word in ("gloo", "nccl", "connection", "timed out", "timeout"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def holdings(model: torch.nn.Module, data) -> str:
    """What every rank of a job must hold alike: the model's shapes and the text's size and
    characters (a corpus path that names different files on two machines shows here)."""
    import hashlib
    import json

    shapes = sum(p.numel() for p in model.parameters())
    text = "no text"
    if data is not None:
        chars = json.dumps(data.tokenizer.to_dict(), sort_keys=True).encode()
        text = (
            f"{data.n_chars:,} characters of text, vocabulary {hashlib.sha1(chars).hexdigest()[:8]}"
        )
    return f"{shapes:,} parameters, {text}"


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel, its buffers (constants here) not synced at each
    forward (the switch's name changed in torch 2.13)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    params = inspect.signature(DistributedDataParallel.__init__).parameters
    switch = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, **{switch: False})


def rank_device(device: torch.device, placement: Placement) -> torch.device:
    """The device of this rank: CUDA ranks take one GPU each (the local rank's); CPU ranks share
    the CPU; MPS has one device per machine, so it takes one rank."""
    if device.type == "mps":
        raise DistributedError(
            _(
                "--device mps has one device per machine, and this job has {ranks} ranks on it"
            ).format(ranks=placement.local_world_size),
            _("use --nproc-per-node 1 with mps, or --device cpu"),
        )
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if placement.local_world_size > count:
        raise DistributedError(
            _("{ranks} ranks on this machine but it has {count} CUDA device(s)").format(
                ranks=placement.local_world_size, count=count
            ),
            _("use --nproc-per-node {count} or fewer (one rank per GPU)").format(count=count),
        )
    dev = torch.device("cuda", placement.local_rank)
    torch.cuda.set_device(dev)
    return dev


def say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)
