"""Reading a run's ``metrics.jsonl`` back: the rows, and one metric's series from them.

Works without torch and without a UI: ``torchdeck plot`` draws what this returns, and anything
else that wants a finished (or still running) run's curves can use it too.

The file holds one JSON object a line: train rows (``"kind": "train"``, with ``train_loss``,
``lr``, ``grad_norm``, ``tokens_per_s``, ...) and eval rows (``"kind": "eval"``, with
``val_loss``); files written before rows had a kind hold rows with ``train_loss`` and sometimes
``val_loss`` in the same row. A value that is not finite is written as the string ``"nan"``,
``"inf"`` or ``"-inf"``. What goes wrong is raised as :class:`~core.errors.ConfigError`, whose
message names the problem and whose hint names the fix.
"""

from __future__ import annotations

import gc
import json
import shlex
from pathlib import Path

from core import i18n
from core.errors import ConfigError
from core.i18n import N_, _

METRICS_FILE = "metrics.jsonl"
ALIASES = {  # short names a person types: `torchdeck plot RUN --metric gpu_util`
    "loss": "train_loss",
    "gpu_util": "gpu_util_pct",
    "gpu_mem": "gpu_mem_used_mb",
    "cpu": "cpu_pct",
    "rss": "proc_rss_mb",
}
# the schema's metrics, in the order they are listed; any other numeric field comes after them
KNOWN_METRICS = (
    "train_loss",
    "val_loss",
    "lr",
    "grad_norm",
    "tokens_per_s",
    "mem_alloc_mb",
    "mem_peak_mb",
    "elapsed_s",
    # the machine beside the run (core.contract.system.ROW_FIELDS)
    "gpu_util_pct",
    "gpu_mem_used_mb",
    "gpu_mem_pct",
    "gpu_temp_c",
    "gpu_power_w",
    "cpu_pct",
    "proc_cpu_pct",
    "proc_rss_mb",
    "mem_used_mb",
)
NOT_METRICS = frozenset({"step", "kind"})
NON_FINITE = frozenset({"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_CHUNK = 4096  # lines parsed per json.loads call
_KINDS = {
    list: N_("an array"),
    str: N_("a string"),
    bool: N_("true or false"),
    type(None): "null",
    int: N_("a number"),
    float: N_("a number"),
}


def metrics_path(run: str | Path) -> Path:
    """The metrics file of ``run``: a run folder (its ``metrics.jsonl``) or the file itself."""
    path = Path(run)
    cmd = f"`torchdeck train --out {shlex.quote(str(run))}`"
    if path.is_dir():
        file = path / METRICS_FILE
        if not file.is_file():
            raise ConfigError(
                _("no {file} in {run}").format(file=METRICS_FILE, run=run),
                _("train into it with {command}").format(command=cmd),
            )
        return file
    if not path.exists():
        raise ConfigError(
            _("{run} does not exist").format(run=run),
            _("give a run folder (one that holds {file}); {command} makes one").format(
                file=METRICS_FILE, command=cmd
            ),
        )
    return path


def read_rows(run: str | Path) -> list[dict]:
    """Every row of a run's metrics file, in file order. Blank lines are skipped, and so is an
    unfinished last line (no newline after it: the run is writing it right now); any other line
    that is not a JSON object is an error naming its line number."""
    path = metrics_path(run)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            _("cannot read {path}: {error}").format(path=path, error=exc.strerror or exc),
            _("check the file's permissions, or give another run"),
        ) from exc
    text = _as_text(path, data)
    del data
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the empty piece after the last newline
        torn = False
    else:  # the last line has no newline yet: the run may be writing it right now
        torn = bool(lines[-1].strip())
    del text
    gc_on = gc.isenabled()
    gc.disable()  # a million new dicts would set off the collector again and again for nothing
    try:
        rows = _parse(path, lines, torn)
    finally:
        if gc_on:
            gc.enable()
    if not rows:
        raise ConfigError(
            _("{path} is empty: the run has not logged a step yet").format(path=path),
            _("a run writes a row every --log-every steps; plot it once the first is written"),
        )
    return rows


def _as_text(path: Path, data: bytes) -> str:
    hint = _(
        "give a run folder or its {file}, the JSON lines that `torchdeck train` writes"
    ).format(file=METRICS_FILE)
    nul = data.find(b"\0")
    if nul >= 0:
        raise ConfigError(
            _("{path} is a binary file, not JSON lines (a zero byte at {position})").format(
                path=path, position=nul
            ),
            hint,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            _("{path} is not UTF-8 text, so not JSON lines (byte {position})").format(
                path=path, position=exc.start
            ),
            hint,
        ) from exc


def _parse(path: Path, lines: list[str], torn: bool) -> list[dict]:
    """The rows of the lines. A chunk of lines that each look like one object is parsed as one
    JSON array (fast, and its rows share their key strings); a chunk that does not give one
    object a line is parsed line by line, to name the line at fault."""
    rows: list[dict] = []
    for start in range(0, len(lines), _CHUNK):
        chunk = lines[start : start + _CHUNK]
        if all(x[:1] == "{" and x[-1:] == "}" for x in chunk):
            try:
                parsed = json.loads("[" + ",".join(chunk) + "]")
            except ValueError:
                parsed = None
            if (
                parsed is not None
                and len(parsed) == len(chunk)
                and all(type(r) is dict for r in parsed)
            ):
                rows.extend(parsed)
                continue
        for n, line in enumerate(chunk, start + 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                problem = (
                    ""
                    if isinstance(row, dict)
                    else _("it holds {kind}").format(kind=i18n._(_KINDS.get(type(row), "None")))
                )
            except json.JSONDecodeError as exc:
                problem = _("{error} at column {column}").format(
                    error=exc.msg.removesuffix(" at"), column=exc.colno
                )
            if not problem:
                rows.append(row)
            elif not (torn and n == len(lines)):
                raise ConfigError(
                    _("{path}, line {line}: not a JSON object ({problem})").format(
                        path=path, line=n, problem=problem
                    ),
                    _(
                        "each line must hold one JSON object, as `torchdeck train` writes them; "
                        "mend or delete line {line}"
                    ).format(line=n),
                )
    return rows


def number(value) -> float | None:
    """A row's value as a float: numbers as they are, ``"nan"``/``"inf"``/``"-inf"`` as the
    floats they stand for, anything else (null, text, true/false, a list) as None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in NON_FINITE:
        return float(value)
    return None


def _step(row: dict) -> int | None:
    step = row.get("step")
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        return None
    if isinstance(step, float) and not step.is_integer():
        return None
    return int(step)


def available(rows: list[dict]) -> list[str]:
    """The metrics the rows hold a value for (null everywhere does not count): the schema's in
    its order, then any other numeric field in the order first seen."""
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in seen and key not in NOT_METRICS and number(value) is not None:
                seen[key] = None
    known = [m for m in KNOWN_METRICS if m in seen]
    return known + [k for k in seen if k not in KNOWN_METRICS]


def canonical(metric: str) -> str:
    """The field a metric name stands for (``loss`` is ``train_loss``)."""
    return ALIASES.get(metric, metric)


def series(
    rows: list[dict], metric: str, where: str | None = None
) -> tuple[list[int], list[float]]:
    """The steps and values of ``metric`` (an alias such as ``loss`` allowed) over the rows
    that hold it; values may be NaN or infinite. Steps come out increasing: when a run resumed
    from an earlier checkpoint and wrote a step again, its later rows replace the rows from
    that step on, as TensorBoard drops the orphaned part of a restarted run. Raises
    :class:`ConfigError` (``where`` names the rows' file) when no row holds a value for it."""
    field = canonical(metric)
    steps: list[int] = []
    values: list[float] = []
    for row in rows:
        value = row.get(field)
        if type(value) is not float:  # the common case skips both calls
            value = number(value)
            if value is None:
                continue
        step = row.get("step")
        if type(step) is not int:
            step = _step(row)
            if step is None:
                continue
        while steps and steps[-1] >= step:
            steps.pop()
            values.pop()
        steps.append(step)
        values.append(value)
    if not steps:
        have = available(rows)
        raise ConfigError(
            _("{where} holds no {field} values").format(
                where=_("the rows") if where is None else where, field=field
            ),
            _("its rows hold: {metrics}").format(metrics=", ".join(have))
            if have
            else _("its rows hold no metrics at all"),
        )
    return steps, values
