"""``python -m cli.train ARGS`` is ``torchdeck train ARGS``: the module torchrun runs on each
worker (``cli.launch``), e.g. ``torchrun --standalone --nproc-per-node 4 -m cli.train --steps
5000``. Imports no torch: rank 0 drives its engine; every other rank becomes a follower engine.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cli.main import main as torchdeck

    return torchdeck(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
