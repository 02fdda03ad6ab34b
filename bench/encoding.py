"""Encoding a GraphQL response: strawberry's json.dumps vs orjson, in one run.

Builds result dicts shaped like the API's answers — the nested page of
``bench/nested_page.py`` (50 groups × 20 members × 10 records: 1,000
volunteers, 10,000 records; Chinese names, numbers, ``"2.50"`` hours and
ISO dates as GraphQL serializes them) and a single ``volunteer(number:)``
lookup — and times, taking turns, for each:

  json    what strawberry's Django view did before: ``json.dumps(data,
          cls=DjangoJSONEncoder, separators=(",", ":"))``, then ``.encode()``
          (Django's ``HttpResponse`` encodes a str body to UTF-8)
  orjson  ``schema.views.encode_json`` (``orjson.dumps`` with Django's encoder
          as fallback), as the views now encode

It checks that both decode to the same value, and prints the median and
minimum time of each (µs per encoding), the ratio and the body sizes (json
escapes non-ASCII as ``\\uXXXX``; orjson writes UTF-8).

    .venv/bin/python bench/encoding.py [--repeat 60]

No database, no server: a few seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def nested_page(groups: int = 50, members: int = 20, records: int = 10) -> dict:
    edges = []
    for g in range(groups):
        volunteers = []
        for m in range(members):
            n = g * members + m
            volunteers.append(
                {
                    "volunteer": {
                        "number": f"53010026{n:08d}X",
                        "name": SURNAMES[n % 20] + GIVEN[n % 24] + GIVEN[(n * 7) % 24],
                        "records": {
                            "edges": [
                                {
                                    "node": {
                                        "hours": f"{1 + (n + r) % 8}.{25 * (r % 4):02d}",
                                        "serviceDate": f"2026-{1 + r % 12:02d}-{1 + n % 28:02d}",
                                    }
                                }
                                for r in range(records)
                            ]
                        },
                    }
                }
            )
        edges.append({"node": {"name": f"昆明市第{g + 1}志愿服务队", "members": volunteers}})
    return {"data": {"groups": {"edges": edges}}}


def lookup() -> dict:
    return {
        "data": {
            "volunteer": {
                "number": "53010026000000013",
                "name": "王芳",
                "gender": "FEMALE",
                "birthDate": "1995-02-03",
                "status": "ACTIVE",
                "verification": "VERIFIED",
                "serviceArea": "五华区",
                "skills": ["急救", "翻译"],
                "idNumberMasked": "5301**********1234",
                "phoneMasked": "139****0104",
            }
        }
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=60, help="timings per encoder and payload")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import django

    django.setup()
    from django.core.serializers.json import DjangoJSONEncoder

    from schema.views import encode_json

    def strawberry_json(data: object) -> bytes:
        return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")).encode()

    encoders = {"json": strawberry_json, "orjson": encode_json}
    payloads = {"nested page": (nested_page(), 1), "single lookup": (lookup(), 1000)}
    print(f"Python {sys.version.split()[0]}; {args.repeat} timings each, encoders taking turns\n")
    print("| payload | encoder | body bytes | median µs | min µs | × json (median) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for label, (data, inner) in payloads.items():
        bodies = {name: encode(data) for name, encode in encoders.items()}
        if json.loads(bodies["json"]) != json.loads(bodies["orjson"]):
            raise SystemExit(f"{label}: the encoders disagree")
        times: dict[str, list[float]] = {name: [] for name in encoders}
        for turn in range(args.repeat):
            order = list(encoders) if turn % 2 == 0 else list(reversed(encoders))
            for name in order:
                encode = encoders[name]
                started = time.perf_counter()
                for _ in range(inner):
                    encode(data)
                times[name].append((time.perf_counter() - started) / inner)
        base = statistics.median(times["json"])
        for name in encoders:
            median = statistics.median(times[name])
            print(
                f"| {label}{'' if inner == 1 else f' (×{inner} per timing)'} | {name} "
                f"| {len(bodies[name]):,} | {median * 1e6:,.1f} | {min(times[name]) * 1e6:,.1f} "
                f"| {median / base:.3f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
