"""Where a single lookup's Python work goes, function by function, GraphQL against
the plain view: bytecodes executed per request, counted by a trace function.

``bench/lookups.py --instructions`` counts machine instructions per request; it
cannot say which Python function spends them (callgrind sees the interpreter's
C functions). This runs the same two kinds of request through Django's WSGI
handler in one process (``bench/lookups.py``'s ``wsgi_requests``: the
``volunteer(number:)`` GraphQL ``POST`` and ``GET /plain/volunteer/<number>``),
warms both up, then counts with ``sys.settrace`` (``f_trace_opcodes``) the
bytecodes each Python function executes over N requests of each kind, and
prints per request: the totals, the difference by module and the largest
differences by function (GraphQL minus plain). Bytecode counts, like
callgrind's, do not depend on the machine's load: two runs give the same
figures. C code (dict lookups, JSON encoding, psycopg) is not counted; the
interpreter's work roughly follows the bytecodes.

    .venv/bin/python bench/lookups.py --instructions 50 --reuse /tmp/lookups-db  # makes the DB
    .venv/bin/python bench/lookups_opcodes.py --reuse /tmp/lookups-db --requests 50
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
from collections import Counter  # noqa: E402

from bench._common import Database, child_env  # noqa: E402
from bench.lookups import DB_NAME, LOGIN_IN_PROCESS, manage, wsgi_requests  # noqa: E402


def where(code) -> str:
    path = code.co_filename
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return path


def child(requests: int, warmup: int) -> int:
    import gc

    import django

    django.setup()
    from django.db import connection

    modes = wsgi_requests(os.environ["LOOKUPS_TOKEN"], os.environ["LOOKUPS_NUMBERS"].split(","))
    for i in range(warmup):
        modes["graphql"](i)
        modes["plain"](i)
    result = {}
    for kind in ("graphql", "plain"):
        ops: Counter = Counter()
        calls: Counter = Counter()

        def local(frame, event, arg, ops=ops):
            if event == "opcode":
                ops[frame.f_code] += 1
            return local

        def trace(frame, event, arg, calls=calls):
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            calls[frame.f_code] += 1
            return local

        gc.disable()  # the collector's callbacks are not a request's work
        sys.settrace(trace)
        try:
            for i in range(requests):
                modes[kind](warmup + i)
        finally:
            sys.settrace(None)
            gc.enable()
        result[kind] = {
            f"{where(code)}:{code.co_firstlineno}:{code.co_qualname}": [ops[code], calls[code]]
            for code in set(ops) | set(calls)
        }
    connection.close()
    print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    parser.add_argument("--reuse", type=Path, help="bench/lookups.py's DIR (required)")
    parser.add_argument("--requests", type=int, default=50, help="of each kind")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--top", type=int, default=40, help="functions to show")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.requests, args.warmup)
    if args.reuse is None or not (args.reuse / "lookups-ready").exists():
        print("run bench/lookups.py --reuse DIR first (it generates the region)", file=sys.stderr)
        return 2
    db = Database(args.reuse, DB_NAME, cleanup="stop")
    try:
        sql = db.connect(DB_NAME)
        with sql.cursor() as cur:
            cur.execute("SELECT number FROM region_chongqing.volunteers_volunteer ORDER BY id")
            numbers = [row[0] for row in cur.fetchall()]
        sql.close()
        env = child_env(db, 60, "bench.bench_settings")
        token = manage(env, "shell", "-c", LOGIN_IN_PROCESS).split()[-1]
        env.update(LOOKUPS_TOKEN=token, LOOKUPS_NUMBERS=",".join(numbers), PYTHONHASHSEED="0")
        command = [sys.executable, str(Path(__file__).resolve()), "--child"]
        command += ["--requests", str(args.requests), "--warmup", str(args.warmup)]
        out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        found = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        db.close()
    n = args.requests
    g, p = found["graphql"], found["plain"]
    total_g = sum(v[0] for v in g.values()) / n
    total_p = sum(v[0] for v in p.values()) / n
    print(
        f"bytecodes per request ({n} of each after {args.warmup} of both): GraphQL "
        f"{total_g:,.0f}, plain {total_p:,.0f}, ×{total_g / total_p:.3f}, "
        f"difference {total_g - total_p:+,.0f}"
    )
    modules: Counter = Counter()
    for name, (ops, _calls) in g.items():
        modules[name.split(":")[0]] += ops
    for name, (ops, _calls) in p.items():
        modules[name.split(":")[0]] -= ops
    print("\nby module, GraphQL − plain (bytecodes per request):")
    for module, diff in sorted(modules.items(), key=lambda kv: -abs(kv[1]))[: args.top]:
        if diff:
            print(f"  {diff / n:>+10,.0f}  {module}")
    print("\nby function, GraphQL − plain (bytecodes and calls per request; GraphQL, plain):")
    rows = []
    for name in set(g) | set(p):
        go, gc_ = g.get(name, [0, 0])
        po, pc = p.get(name, [0, 0])
        rows.append((go - po, name, go, po, gc_, pc))
    for diff, name, go, po, gc_, pc in sorted(rows, key=lambda r: -abs(r[0]))[: args.top]:
        if diff:
            print(
                f"  {diff / n:>+9,.0f}  {go / n:>9,.0f} {po / n:>9,.0f}"
                f"  calls {gc_ / n:>6,.1f} {pc / n:>6,.1f}  {name}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
