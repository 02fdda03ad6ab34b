"""Child processes that die with their parent, whatever the parent dies of.

Django-free on purpose: the benchmarks and the test support start servers with
it before (or without) setting Django up.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable


def dies_with(parent: int) -> Callable[[], None] | None:
    """Linux: a ``preexec_fn`` that has the kernel kill the child (SIGKILL) when
    ``parent`` (``up``) dies by ``kill -9``, whatever the child is doing: importing
    Django, waiting on a lock in the middle of a round (a handler of a gentler
    signal would run only once that wait ends). Nothing is lost: each round's
    writes are transactions, rolled back with the connection, and a delivery cut
    in flight is sent again (README "Serving", Faults). Killed at once if ``up``
    is gone already. Elsewhere None: the children's own ``--parent`` poll
    remains. (The kernel follows the thread that started the child: a
    SupervisedChild's, which lives as long as the child.)"""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # up died between the fork and here
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


PR_SET_PDEATHSIG = 1
