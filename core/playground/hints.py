"""Short hints for the errors learners make most in the playground (LESSONS.md L3/L4)."""

from __future__ import annotations

import re

from core.errors import TorchdeckError
from core.i18n import _

_MATMUL_SHAPES = re.compile(r"\((\d+x\d+) and (\d+x\d+)\)")


def hint_for(exc: BaseException) -> str:
    """A short hint for the mistakes learners make most (LESSONS.md L3/L4), or ''."""
    msg = str(exc)
    if isinstance(exc, TorchdeckError):
        return exc.hint
    if "backward through the graph a second time" in msg:
        return _(
            "the first backward() freed the graph's saved values; pass "
            "retain_graph=True to that first backward() if you need a second pass, or "
            "run the forward pass again"
        )
    if isinstance(exc, TypeError) and re.search(r"must be Tensor, not (int|float)", msg):
        return _(
            "a layer takes a tensor, not a Python number: for row i of a Linear's weight "
            "write l.weight[i]; to look a token up, use nn.Embedding with torch.tensor([i])"
        )
    m = _MATMUL_SHAPES.search(msg)
    if m and "cannot be multiplied" in msg:
        a, b = m.group(1).split("x"), m.group(2).split("x")
        return _(
            "A @ B needs A's columns to equal B's rows: A is {a_rows}×{a_cols}, B is "
            "{b_rows}×{b_cols}, and {a_cols} ≠ {b_rows}; transpose one side (.T) or check the "
            "layer's in_features"
        ).format(a_rows=a[0], a_cols=a[1], b_rows=b[0], b_cols=b[1])
    if re.search(r"inconsistent tensor size|size mismatch, got input|dimensions of batch2", msg):
        return _(
            "A @ B needs A's last size to equal B's second-to-last (a vector's only size); "
            "compare A.shape and B.shape, and transpose one side (.T) if needed"
        )
    if "size of tensor a" in msg and "must match the size of tensor b" in msg:
        return _(
            "element-wise ops broadcast: sizes must be equal or 1, compared from the last "
            "dimension; print both .shape values"
        )
    if re.search(
        r"expected (m1 and m2|mat1 and mat2|both|scalar type)|same dtype|"
        r"expected scalar type",
        msg,
        re.I,
    ) and re.search(r"Long|Float|Int|Double|Half|float|long|int", msg):
        return _(
            "the two sides have different dtypes: torch.tensor([1, 2]) is Long (int64), "
            "weights are Float (float32); convert with .float() or .long()"
        )
    if isinstance(exc, IndexError) and "index out of range in self" in msg:
        return _(
            "an id is outside the Embedding: nn.Embedding(n, d) accepts ids 0 … n-1; "
            "compare ids.max() with num_embeddings"
        )
    if "indices" in msg and "scalar types" in msg:
        return _("an Embedding takes integer ids: convert them with .long()")
    if isinstance(exc, NameError):
        return _("names live until the namespace is reset; run the cell that defines it first")
    if isinstance(exc, MemoryError) or "can't allocate memory" in msg or "out of memory" in msg:
        return _("that needs more memory than is free: use smaller sizes")
    if isinstance(exc, SystemExit):
        return _("exit() would end the engine; the playground keeps running instead")
    return ""
