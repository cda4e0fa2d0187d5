"""A loss history with bounded memory. Imports no torch: the engine keeps one per run and the UI
keeps its own copy for the charts."""

from __future__ import annotations


class LossHistory:
    """Loss against step with bounded memory: past ``capacity`` points, neighbours are averaged
    in pairs and each point stands for twice as many steps (its step is the bucket's last)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = max(2, capacity + capacity % 2)  # even: halving pairs every point
        self.steps: list[int] = []
        self.values: list[float] = []
        self.stride = 1
        self._acc = 0.0
        self._n = 0

    def append(self, step: int, value: float) -> None:
        self._acc += value
        self._n += 1
        if self._n < self.stride:
            return
        self.steps.append(step)
        self.values.append(self._acc / self._n)
        self._acc, self._n = 0.0, 0
        if len(self.steps) >= self.capacity:
            self.steps = self.steps[1::2]
            vals = self.values
            self.values = [(vals[i] + vals[i + 1]) / 2 for i in range(0, len(vals) - 1, 2)]
            self.stride *= 2

    def __len__(self) -> int:
        return len(self.steps)

    def to_dict(self) -> dict:
        return {
            "steps": list(self.steps),
            "values": list(self.values),
            "stride": self.stride,
            "capacity": self.capacity,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LossHistory:
        h = cls(int(data.get("capacity", 4096)))
        h.steps = [int(s) for s in data["steps"]]
        h.values = [float(v) for v in data["values"]]
        h.stride = int(data.get("stride", 1))
        if len(h.steps) != len(h.values):
            raise ValueError("loss history steps and values differ in length")
        return h


def decimated(history: dict, points: int) -> dict:
    """A history (``LossHistory.to_dict``) thinned to about ``points`` points for a screen of
    that width: each run of steps keeps its lowest and highest value (in step order), so a spike
    stays visible, and the first and last points are always kept, so the chart spans the whole
    run. ``points`` 0, or a history already that short: unchanged."""
    steps, values = history["steps"], history["values"]
    if not points or len(steps) <= points:
        return history
    runs = max(1, points // 2)
    size = -(-len(steps) // runs)
    out_steps: list[int] = []
    out_values: list[float] = []
    for start in range(0, len(steps), size):
        idx = range(start, min(start + size, len(steps)))
        keep = {min(idx, key=values.__getitem__), max(idx, key=values.__getitem__)}
        keep |= {i for i in (0, len(steps) - 1) if i in idx}
        for i in sorted(keep):
            out_steps.append(steps[i])
            out_values.append(values[i])
    return {**history, "steps": out_steps, "values": out_values}
