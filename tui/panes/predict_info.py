"""The Predict pane's info line: what the reply says about the text, most telling first (at 80
columns the last parts are left out whole, never cut)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.i18n import _

if TYPE_CHECKING:
    from core.contract import PredictResult


def info_parts(r: PredictResult, latency_s: float | None = None) -> list[str]:
    """The parts of the line for reply ``r`` (``latency_s``: the last keystroke's, if any); an
    unknown character's note comes first (the pane draws it in red)."""
    parts = []
    if r.unknown:
        chars = "".join(dict.fromkeys(ch for _pos, ch in r.unknown))[:8]
        parts.append(
            _("{n} char(s) not in the vocabulary ({chars}): skipped").format(
                n=len(r.unknown), chars=chars
            )
        )
    if r.cropped:
        parts.append(
            _("using the last {used} of {chars} chars (context {context})").format(
                used=len(r.ids), chars=r.chars, context=r.block_size
            )
        )
    elif r.empty_context:
        parts.append(_("empty text: predicting from a newline"))
    if r.bits_per_char is not None:
        parts.append(
            _("text loss {loss:.3f} nats, {bits:.2f} bits/char").format(
                loss=r.loss, bits=r.bits_per_char
            )
        )
    if r.step == 0:
        parts.append(_("untrained: random weights"))
    else:
        parts.append(_("weights of step {step}").format(step=r.step))
    if r.bits_per_char is None:
        parts.append(_("text loss: needs 2+ known characters"))
    if latency_s is not None:
        parts.append(_("in {ms:.0f} ms").format(ms=1000 * latency_s))
    return parts
