"""A new region, two ways in the same run (issue 14 point 5): by the migrations
(Django's states cached per process, no savepoints, one INSERT of the applied
migrations) and by replaying the statements the process's first new schema
sent (``central.services._replay``), taking turns; wall seconds, this
process's CPU and PostgreSQL's CPU per region, and replay / migrations per round.

    .venv/bin/python bench/new_region.py 6      # rounds (default 6)

Its own throwaway PostgreSQL (public schema migrated, no seed regions); the
regions are GB/T 2260 county codes as in ``regions.py --national``.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.append(str(_HERE))

import regions as R
from _common import ROOT, Database, child_env, cpu_seconds, load_average

os.chdir(ROOT)
wd = Path(tempfile.mkdtemp(prefix="w26ab-"))
db = Database(wd, "bench_regions")
env = child_env(db, 0)
os.environ.update(
    DATABASE_URL=db.url,
    DJANGO_SETTINGS_MODULE="central.settings",
    DJANGO_DEBUG="0",
    PLATFORM_LOG_LEVEL="WARNING",
)
print("load", load_average(), flush=True)
subprocess.run(
    [sys.executable, "manage.py", "migrate_schemas", "--shared", "--verbosity=0"],
    env=env,
    check=True,
)
import django

django.setup()
from central import services
from central.models import Region

specs = R.county_specs(set(Region.objects.values_list("code", flat=True)))
R.new_region_seconds(specs, 1)
# (wall, this process's CPU, PostgreSQL's CPU) seconds per new region
res: dict[str, list[tuple[float, float, float]]] = {"migrations": [], "replay": []}
for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 6):
    for way in ["migrations", "replay"] if r % 2 == 0 else ["replay", "migrations"]:
        if way == "migrations":
            services._fresh_sql.clear()
            services._fresh_applied.clear()
        spec = next(specs)
        w, c, p = time.perf_counter(), time.process_time(), cpu_seconds(db.postmaster_pid)
        services.provision_region(spec, actor="bench")
        res[way].append(
            (time.perf_counter() - w, time.process_time() - c, cpu_seconds(db.postmaster_pid) - p)
        )
        assert way == "migrations" or services._fresh_sql


def mmm(v):
    return " / ".join(f"{x:.3f}" for x in (min(v), statistics.median(v), max(v)))


for way, rows in res.items():
    print(
        way,
        "wall",
        mmm([r[0] for r in rows]),
        "app cpu",
        mmm([r[1] for r in rows]),
        "pg cpu",
        mmm([r[2] for r in rows]),
    )


def ratio(i):
    return [b[i] / a[i] for a, b in zip(res["migrations"], res["replay"], strict=True)]


print("replay/migrations per round: wall", mmm(ratio(0)), "app cpu", mmm(ratio(1)))
print("load", load_average(), time.strftime("%H:%M UTC", time.gmtime()))
db.close()
