"""The loop of a long-running worker command (``interop deliver --loop``,
``schedule --loop``): run a round, sleep, repeat, outliving any error.

A round's error is one line on stderr and the connections are dropped, so the
next round reconnects (a database restart, issue 11 finding 6). SIGTERM (how
``up`` and systemd stop it) ends the loop like Ctrl-C, so exit handlers run: the
embedded PostgreSQL counts this process among its users until its handler
removes it, and ``up`` then stops the server it started. With ``parent`` the
worker also leaves when that process (``up``) is gone.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from django.db import connections
from django.utils.translation import gettext as _


def run_rounds(
    round_once: Callable[[], None],
    *,
    name: str,
    interval: float,
    parent: int = 0,
    max_rounds: int = 0,
    say_error: Callable[[str], None],
) -> None:
    rounds = 0
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            try:
                round_once()
            except Exception as error:  # the worker outlives any round
                first = (str(error).strip().splitlines() or [""])[0][:300]
                say_error(
                    _("%(worker)s: %(name)s: %(first)s (next round in %(interval)ss)")
                    % {
                        "worker": name,
                        "name": type(error).__name__,
                        "first": first,
                        "interval": format(interval, "g"),
                    }
                )
                connections.close_all()
            rounds += 1
            if max_rounds and rounds >= max_rounds:
                return
            if not _sleep(interval, parent):
                return
    except KeyboardInterrupt:
        return


def _sleep(interval: float, parent: int) -> bool:
    """Wait ``interval`` seconds; False once the parent (``up``) is gone."""
    deadline = time.monotonic() + interval
    while True:
        if parent and os.getppid() != parent:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, 0.5))


def _interrupt(signum, frame):
    raise KeyboardInterrupt
