"""The engine's memories (results remembered across calculations) start empty in a forked child process.

Every memory is a pure function of its key, so a child could keep its parent's; but a child that runs
other code than its parent must answer with its own: mutation testing forks each worker from a process
that has run the suite, and a remembered answer would hide the mutant that should have computed it.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def forgotten_in_forked_children(*clears: Callable[[], None]) -> None:
    """Run each `clear` (a memory's clear or cache_clear) in every child forked from now on."""
    for clear in clears:
        os.register_at_fork(after_in_child=clear)
