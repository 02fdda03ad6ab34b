"""The federation invariant after every transfer scenario (issue 11).

Every interop test module has an autouse fixture that calls
:func:`assert_audit_clean` when each test ends: ``manage.py interop audit``
over every region of this deployment (and, where a real second deployment
takes part, ``--peers``: both sides of each transfer compared). A scenario that
leaves an hour counted twice or nowhere fails, whatever it asserted itself.
"""

from __future__ import annotations

import io

from django.core.management import call_command

from interop.invariant import audit


def assert_audit_clean(peers: bool | set[str] = False) -> None:
    report = audit(peers=peers)
    assert report.clean, [str(problem) for problem in report.problems]
    if not peers:
        call_command("interop", "audit", stdout=io.StringIO())  # the operator's command too
