"""Where a process sits in a torchrun job, from the environment torchrun gives each worker.

Imports no torch: the headless front end reads it to know whether it is rank 0 (the engine's
front end) or a rank that follows (``core.follower``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @classmethod
    def from_env(cls, environ=None) -> Placement | None:
        """The placement torchrun gave this process, or None outside a job of 2+ ranks."""
        environ = os.environ if environ is None else environ
        try:
            world = int(environ.get("WORLD_SIZE", "1"))
            rank = int(environ.get("RANK", "0"))
            local = int(environ.get("LOCAL_RANK", str(rank)))
            local_world = int(environ.get("LOCAL_WORLD_SIZE", str(world)))
        except ValueError:
            return None
        if world < 2:
            return None
        return cls(rank, world, local, local_world)
