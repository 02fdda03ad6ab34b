"""What a test run costs: wall time, and CPU seconds of every process it starts.

    .venv/bin/python bench/suite_cpu.py tests/test_newcomer.py [more pytest args]

Runs ``pytest -q -p no:cacheprovider ARGS`` in a cpuacct cgroup of its own
(cgroup v1, as on this machine; needs root), so the CPU of everything the run
starts is counted — gunicorn servers, ``manage.py`` commands, the embedded
PostgreSQL the suite starts (it daemonizes, but stays in the cgroup). CPU
seconds barely depend on the machine's load; wall time does, so the load
average before and after is printed beside it. On 2 cores a run can take no
less wall time than its CPU seconds / 2 (README, "Tests").
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup/cpuacct")
REPO = Path(__file__).resolve().parent.parent


def main(args: list[str]) -> int:
    if not (ROOT / "cgroup.procs").exists():
        sys.exit(f"no cpuacct cgroup (v1) at {ROOT}")
    group = ROOT / f"vrp-suite-cpu-{os.getpid()}"
    group.mkdir()
    load_before = os.getloadavg()
    start = time.monotonic()
    # The child joins the cgroup before it execs pytest: all its descendants follow.
    code = subprocess.call(
        [".venv/bin/pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
    )
    wall = time.monotonic() - start
    time.sleep(3)  # processes the run left stopping (PostgreSQL's shutdown) count too
    cpu = int((group / "cpuacct.usage").read_text()) / 1e9
    ticks = dict(line.split() for line in (group / "cpuacct.stat").read_text().splitlines())
    hz = os.sysconf("SC_CLK_TCK")
    left = (group / "cgroup.procs").read_text().split()
    print(
        f"pytest {' '.join(args)}: exit {code}, wall {wall:.1f} s, CPU {cpu:.1f} s "
        f"(user {int(ticks['user']) / hz:.1f}, system {int(ticks['system']) / hz:.1f}), "
        f"load {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
        + (f"; {len(left)} processes still running" if left else "")
    )
    if not left:
        group.rmdir()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
