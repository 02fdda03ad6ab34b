"""Bulk import (issue 12 point 7): 100,000 volunteer rows through ``manage.py
import_rows`` against the data generator's ``COPY``, in the same run.

Starts a throwaway embedded PostgreSQL, runs ``manage.py up --no-serve``,
provisions 昆明市 (530100, 云南's policy), then, one after the other:

  generate  ``manage.py generate_data --volunteers N --records-per-volunteer 1``:
            volunteers (with their HomeRegion row, a membership and one record
            each) written with PostgreSQL COPY, no service, no audit entry per row
  import    a CSV of N volunteer rows (the template's Chinese headers; valid
            resident ID numbers born elsewhere, so none collides with the
            generator's) through ``manage.py import_rows --kind volunteers``:
            the same ``register_volunteer`` service as the API — checks, PII
            encryption and hashes, the home-region directory, an audit entry per
            row — in one all-or-nothing transaction, a savepoint per row
  rerun     the same file again: every row found already present, nothing written

and prints rows/s for each, the ratio generate/import, the peak resident memory
of each import process (``ru_maxrss`` from ``wait4``: flat in the file's length,
since rows are streamed) and the file's size. With ``--xlsx`` the same rows are also imported
from an XLSX workbook (openpyxl read-only).

    .venv/bin/python bench/imports.py                  # 100,000 rows
    .venv/bin/python bench/imports.py --rows 5000 --xlsx

Everything listens on 127.0.0.1 only; the database and its directory are
deleted on exit. See README "Bulk import" for the figures.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGION = ["--code", "530100", "--name", "昆明市", "--level", "city", "--slug", "kunming"]
REGION += ["--parent", "530000", "--preset", "yunnan"]
CODE = "530100"
DB_NAME = "bench_imports"
# Born in 北京 (ID area 110101): the generator's people are born in the region's
# own counties, so no row of the file is anyone it made.
BIRTH_AREA = "110101"
HEADER = ["姓名", "性别", "证件号码", "手机号码", "所在县（区）", "技能特长"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def manage(env: dict, *args: str) -> tuple[float, str, int]:
    """Run a command; its wall seconds, stdout and its own peak RSS (KiB, from wait4)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            text=True,
        )  # progress goes straight to our stderr
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        stdout = out.read().strip()
    if child.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{stdout[-3000:]}")
    return seconds, stdout, usage.ru_maxrss


def people(n: int):
    """N distinct volunteer rows with valid resident ID numbers (GB 11643)."""
    from stdnum.cn import ric

    first = datetime.date(1960, 1, 1)
    for i in range(n):
        birth = first + datetime.timedelta(days=i // 900)
        body = f"{BIRTH_AREA}{birth:%Y%m%d}{i % 900 + 100:03d}"
        id_number = body + ric.calc_check_digit(body + "0")
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[i // len(SURNAMES) % len(GIVEN)]
        gender = "男" if int(body[-1]) % 2 else "女"
        yield [name, gender, id_number, f"139{i:08d}", "530102", "急救、助老"]


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(people(n))


def write_xlsx(path: Path, n: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("志愿者")
    sheet.append(HEADER)
    for row in people(n):
        sheet.append(row)
    workbook.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx", action="store_true", help="also import the rows from XLSX")
    args = parser.parse_args()

    from central.database import (
        database_url,
        ensure_database,
        parse_database_url,
        start_embedded_server,
    )

    workdir = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    log(f"PostgreSQL in {workdir / 'pg'}")
    admin_uri = start_embedded_server(workdir / "pg", cleanup="delete")
    ensure_database(admin_uri, DB_NAME)
    url = database_url({**parse_database_url(admin_uri), "NAME": DB_NAME})
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "central.settings",
        "DJANGO_DEBUG": "0",
        "PLATFORM_LOG_LEVEL": "WARNING",
        "PLATFORM_LANGUAGE": "en",
    }
    manage(env, "up", "--no-serve")
    manage(env, "region", "create", *REGION)

    n = args.rows
    groups = max(1, n // 20)
    log(f"generate_data: {n} volunteers, 1 record each")
    gen_seconds, gen_out, _ = manage(
        env, "generate_data", "--region", CODE, "--volunteers", str(n), "--groups", str(groups),
        "--records-per-volunteer", "1", "--seed", "20261206",
    )  # fmt: skip
    log(gen_out)

    path = workdir / "volunteers.csv"
    write_csv(path, n)
    size = path.stat().st_size
    runs = [("import (CSV)", path), ("rerun (CSV)", path)]
    if args.xlsx:
        book = workdir / "volunteers.xlsx"
        write_xlsx(book, n)
        # The XLSX rows are the same people: all present after the CSV import.
        runs.append(("rerun (XLSX)", book))
    results = []
    for label, file in runs:
        log(f"{label}: manage.py import_rows --region {CODE} --kind volunteers {file.name}")
        seconds, out, peak = manage(
            env, "import_rows", "--region", CODE, "--kind", "volunteers",
            "--operator", "bench", str(file),
        )  # fmt: skip
        log(out.splitlines()[-1])
        results.append((label, seconds, peak, out.splitlines()[-1]))

    gen_rate = n / gen_seconds
    print()
    print(f"rows: {n:,}; CSV {size / 1e6:.1f} MB")
    print(f"generate_data (COPY): {gen_seconds:7.1f} s  {gen_rate:9,.0f} volunteers/s (wall)")
    for label, seconds, peak, summary in results:
        rate = n / seconds
        memory = f"  peak RSS {peak / 1024:.0f} MiB"
        print(
            f"{label:20}: {seconds:7.1f} s  {rate:9,.0f} rows/s  "
            f"generate/import {gen_rate / rate:5.1f}×{memory}"
        )
        print(f"    {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
