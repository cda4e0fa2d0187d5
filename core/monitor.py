"""The machine beside the run: a thread that takes a sample (``core.system_metrics``) about once
a second while a client is attached or a run trains, and keeps the last ten minutes of them.

Never on the training step's path: the thread only samples (psutil and NVML calls, well under a
millisecond each). The engine's own loop picks the newest sample up between steps and slices
(``take``) and sends it as the ``system`` event; its rows (``core.metric_log``) carry the
latest figures; ``attach`` hands a new client the history; ``ls`` shows the GPU memory.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable

from core.contract.system import SystemSample

PERIOD_S = 1.0  # seconds between samples
HISTORY = 600  # samples kept: ten minutes


def nvml_index(cuda_index: int) -> int:
    """The NVML index of ``cuda:N``: NVML numbers every GPU of the machine, CUDA only those in
    ``CUDA_VISIBLE_DEVICES`` (when it lists plain numbers)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
    try:
        numbers = [int(v) for v in visible if v.strip()]
    except ValueError:  # GPU UUIDs, MIG names: NVML's own order is the best guess
        return cuda_index
    return numbers[cuda_index] if 0 <= cuda_index < len(numbers) else cuda_index


class Monitor:
    """Samples while ``wanted()`` says someone looks or a run trains; ``training()`` marks each
    sample; ``device()`` is the engine's CUDA index (or None) when the sample is taken."""

    def __init__(
        self,
        wanted: Callable[[], bool],
        training: Callable[[], bool],
        device: Callable[[], int | None],
        period: float = PERIOD_S,
    ) -> None:
        self.wanted, self.training, self.device = wanted, training, device
        self.period = period
        self.history: deque[dict] = deque(maxlen=HISTORY)
        self.latest: SystemSample | None = None
        self._fresh = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampler = None
        self._sampler_for: int | None = None
        self.error: str | None = None  # why sampling stopped (psutil missing, a bug)
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._sampler is not None:
            self._sampler.close()

    def take(self) -> SystemSample | None:
        """The newest sample if the engine has not sent it yet."""
        with self._lock:
            fresh, self._fresh = self._fresh, False
            return self.latest if fresh else None

    def recent(self) -> list[dict]:
        with self._lock:
            return list(self.history)

    def row_fields(self) -> dict:
        """The latest sample's figures a metrics row carries (none before the first sample)."""
        latest = self.latest
        return latest.row_fields() if latest is not None else {}

    def sample_now(self) -> SystemSample:
        """One sample, taken on the calling thread (the loop's, and tests)."""
        index = self.device()
        if self._sampler is None or index != self._sampler_for:
            from core.system_metrics import SystemSampler

            if self._sampler is not None:
                self._sampler.close()
            gpu = index if index is not None else 0
            self._sampler = SystemSampler(nvml_index(gpu), torch_device=gpu)
            self._sampler_for = index
        data = self._sampler.sample()
        sample = SystemSample.from_dict({**data, "t": time.time(), "training": self.training()})
        with self._lock:
            self.latest = sample
            self._fresh = True
            self.history.append(sample.to_dict())
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if not self.wanted():
                continue
            try:
                self.sample_now()
            except Exception as exc:  # sampling must never take the engine down
                self.error = f"{type(exc).__name__}: {exc}"
                return
