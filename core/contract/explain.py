"""The ``explain`` op: inside the model for a typed text (issue 17) — attention per layer and
head, the logit lens, attribution of the top prediction to the input characters, and the
embedding neighbours of one character. Imports no torch and no UI library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.contract.base import Contract, arg, nested
from core.contract.settings import int_in
from core.i18n import N_, Words
from core.protocol import Arg

_INDEX = Arg(
    int,
    check=lambda v: isinstance(v, int) and v >= 0,
    nullable=True,
    expect=Words(N_("≥ {low}"), low=0),
)


@dataclass(frozen=True)
class ExplainArgs(Contract):
    """What to explain: ``text`` (its last block_size characters are fed, as ``predict`` does);
    ``layer``/``head`` narrow the attention sent back (None: every layer, every head);
    ``position`` is the index in ``text`` of the character whose embedding neighbours are
    asked, as a text box counts it (None: the last character fed)."""

    OP: ClassVar[str] = "explain"
    text: str = arg("", str, required=True)
    layer: int | None = arg(None, rule=_INDEX)
    head: int | None = arg(None, rule=_INDEX)
    position: int | None = arg(None, rule=_INDEX)
    # only the last ``window`` fed positions of each attention map, as queries and as keys:
    # what a view of that size can show (None: every position)
    window: int | None = arg(
        None,
        rule=Arg(int, check=lambda v: v >= 1, nullable=True, expect=Words(N_("≥ {low}"), low=1)),
    )
    neighbours: int = arg(8, rule=int_in(1, 64))  # how many nearest characters
    lens_k: int = arg(3, rule=int_in(1, 20))  # characters per logit-lens row


@dataclass(frozen=True)
class TopChar(Contract):
    """A character, its id and its probability (predict's top characters use it too)."""

    char: str = ""
    id: int = 0
    prob: float = 0.0


@dataclass(frozen=True)
class LensRow(Contract):
    """One layer's residual stream read through the final norm and the unembedding: its top
    next characters at the last position."""

    name: str = ""  # "embed", "block 0", ...
    top: list[TopChar] = nested(TopChar, many=True)


@dataclass(frozen=True)
class Neighbour(Contract):
    char: str = ""
    id: int = 0
    cosine: float = 0.0


@dataclass(frozen=True)
class ExplainResult(Contract):
    """Each part comes with a note saying, in one line, why it is empty for this model."""

    chars: list = arg(kind=list, factory=list)  # the characters fed: the maps' row/column labels
    ids: list = arg(kind=list, factory=list)
    n_layer: int = 0  # the model's attention layers and heads (0: none)
    n_head: int = 0
    layers: list = arg(kind=list, factory=list)  # the layers ``attention`` holds, in order
    heads: list = arg(kind=list, factory=list)  # the heads each of them holds
    # [len(layers)][len(heads)][T][T]: row q is query q's distribution over keys 0..q (zeros
    # above the diagonal: the causal mask). With a window w < T, [w][w]: the queries and keys
    # from ``offset`` = T - w on (a row then sums to 1 less what fell on the keys cut)
    attention: list = arg(kind=list, factory=list)
    offset: int = 0
    attention_note: str = ""
    lens: list[LensRow] = nested(LensRow, many=True)
    lens_note: str = ""
    # one float per fed character: gradient × input on the token embeddings, summed over the
    # embedding, of the top prediction's log-probability
    attribution: list = arg(kind=list, factory=list)
    target: TopChar | None = nested(TopChar)  # the prediction attributed
    attribution_note: str = ""
    neighbours_of: TopChar | None = nested(TopChar)  # prob unused: the character asked
    neighbours: list[Neighbour] = nested(Neighbour, many=True)
    neighbours_note: str = ""
    # the asked character's place among those fed (``chars``): the row a view marks; None when
    # it is not fed (outside the vocabulary, or before the last block_size)
    position: int | None = None
    step: int = 0
