"""A loss history with bounded memory. Imports no torch: the engine keeps one per run and the UI
keeps its own copy for the charts."""

from __future__ import annotations


class LossHistory:
    """Loss against step with bounded memory: past ``capacity`` points, neighbours are averaged
    in pairs and each point stands for twice as many steps (its step is the bucket's last).
    Each point also keeps the lowest and highest value it stands for (``lows``, ``highs``), so a
    one-step spike stays as high on a chart of a million steps as on one of a thousand."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = max(2, capacity + capacity % 2)  # even: halving pairs every point
        self.steps: list[int] = []
        self.values: list[float] = []
        self.lows: list[float] = []
        self.highs: list[float] = []
        self.stride = 1
        self._acc = 0.0
        self._n = 0
        self._lo = self._hi = 0.0

    def append(self, step: int, value: float) -> None:
        if self._n == 0:
            self._lo = self._hi = value
        else:  # min/max as written: a NaN stays out of the extremes unless it came first
            self._lo = value if value < self._lo else self._lo
            self._hi = value if value > self._hi else self._hi
        self._acc += value
        self._n += 1
        if self._n < self.stride:
            return
        self.steps.append(step)
        self.values.append(self._acc / self._n)
        self.lows.append(self._lo)
        self.highs.append(self._hi)
        self._acc, self._n = 0.0, 0
        if len(self.steps) >= self.capacity:
            self.steps = self.steps[1::2]
            vals, lows, highs = self.values, self.lows, self.highs
            pairs = range(0, len(vals) - 1, 2)
            self.values = [(vals[i] + vals[i + 1]) / 2 for i in pairs]
            self.lows = [min(lows[i], lows[i + 1]) for i in pairs]
            self.highs = [max(highs[i], highs[i + 1]) for i in pairs]
            self.stride *= 2

    def __len__(self) -> int:
        return len(self.steps)

    def to_dict(self) -> dict:
        return {
            "steps": list(self.steps),
            "values": list(self.values),
            "lows": list(self.lows),
            "highs": list(self.highs),
            "stride": self.stride,
            "capacity": self.capacity,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LossHistory:
        h = cls(int(data.get("capacity", 4096)))
        h.steps = [int(s) for s in data["steps"]]
        h.values = [float(v) for v in data["values"]]
        # a checkpoint written before the extremes were kept: each point is its own extreme
        h.lows = [float(v) for v in data.get("lows", h.values)]
        h.highs = [float(v) for v in data.get("highs", h.values)]
        h.stride = int(data.get("stride", 1))
        if not len(h.steps) == len(h.values) == len(h.lows) == len(h.highs):
            raise ValueError("loss history steps and values differ in length")
        return h


def decimated(history: dict, points: int) -> dict:
    """A history (``LossHistory.to_dict``) thinned to about ``points`` points for a screen of
    that width: each run of steps keeps its lowest and highest value (in step order), so a spike
    stays visible, and the first and last points are always kept, so the chart spans the whole
    run. ``points`` 0, or a history already that short: unchanged."""
    steps, values = history["steps"], history["values"]
    lows, highs = history.get("lows", values), history.get("highs", values)
    if not points or len(steps) <= points:
        return history
    runs = max(1, points // 2)
    size = -(-len(steps) // runs)
    out: dict[str, list] = {"steps": [], "values": [], "lows": [], "highs": []}
    for start in range(0, len(steps), size):
        idx = range(start, min(start + size, len(steps)))
        keep = {min(idx, key=lows.__getitem__), max(idx, key=highs.__getitem__)}
        keep |= {i for i in (0, len(steps) - 1) if i in idx}
        for i in sorted(keep):
            for name, series in zip(out, (steps, values, lows, highs)):
                out[name].append(series[i])
    return {**history, **out}
