"""Fetch the third-party files the platform serves or embeds, from the npm registry.

    python -m central.vendor_assets

The result is committed; nothing is fetched when the platform installs or runs
(intranet and mainland networks often cannot reach a public CDN). Each file is
taken from a pinned package version with ``npm pack`` (the registry checks the
tarball's integrity), its SHA-384 is compared with the pin below (for the
GraphiQL files, the Subresource Integrity hashes strawberry's own GraphiQL page
uses for the same files on unpkg), and every package's licence text is copied
beside it. ``VENDORED.json`` in each target folder records package, version,
licence and hash of every file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRAPHIQL_DIR = ROOT / "central" / "static" / "graphiql"
FONT_DIR = ROOT / "tenants" / "certificates" / "font_files"
ECHARTS_DIR = ROOT / "central" / "static" / "echarts"


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    licence: str  # SPDX, as the package declares it
    path: str  # inside the tarball, under package/
    target: str  # file name in the target folder
    sha384: str  # base64, as in an integrity attribute
    # The licence text in the tarball; "<package>@<version>:<path>" when the package
    # ships none and its monorepo's sibling carries it.
    licence_file: str = "LICENSE"


# The explorer plugin's tarball has no licence text; it is MIT (package.json) in the
# graphiql monorepo, whose LICENSE graphiql's tarball carries.
_GRAPHIQL_LICENCE = "graphiql@3.8.3:LICENSE"

GRAPHIQL = [
    Asset(
        "react",
        "18.2.0",
        "MIT",
        "umd/react.production.min.js",
        "react.production.min.js",
        "tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    ),
    Asset(
        "react-dom",
        "18.2.0",
        "MIT",
        "umd/react-dom.production.min.js",
        "react-dom.production.min.js",
        "bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    ),
    Asset(
        "graphiql",
        "3.8.3",
        "MIT",
        "graphiql.min.js",
        "graphiql.min.js",
        "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    ),
    Asset(
        "graphiql",
        "3.8.3",
        "MIT",
        "graphiql.min.css",
        "graphiql.min.css",
        "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    ),
    Asset(
        "@graphiql/plugin-explorer",
        "1.0.2",
        "MIT",
        "dist/index.umd.js",
        "plugin-explorer.umd.js",
        "2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
        licence_file=_GRAPHIQL_LICENCE,
    ),
    Asset(
        "@graphiql/plugin-explorer",
        "1.0.2",
        "MIT",
        "dist/style.css",
        "plugin-explorer.css",
        "5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
        licence_file=_GRAPHIQL_LICENCE,
    ),
]

# Noto Sans SC Regular as Google Fonts builds it (TrueType outlines, which reportlab
# can subset and embed; the CFF-based OTFs it cannot), packaged by Expo.
FONTS = [
    Asset(
        "@expo-google-fonts/noto-sans-sc",
        "0.4.3",
        "OFL-1.1",
        "400Regular/NotoSansSC_400Regular.ttf",
        "NotoSansSC-Regular.ttf",
        "GBHqIygnL0eE1DrZBtuOvo2ecokF86qBgVcj1K8A7qyXS+yjDet/wV+4EIltfNNe",
        licence_file="LICENSE_FONT",
    ),
]


# Apache ECharts (the charts of the statistics pages). No CDN page pins these files,
# so the hash is the one of the file in the npm tarball, whose own sha512 the
# registry and npm check; the NOTICE file Apache-2.0 asks to keep travels with it.
ECHARTS = [
    Asset(
        "echarts",
        "5.6.0",
        "Apache-2.0",
        "dist/echarts.min.js",
        "echarts.min.js",
        "pPi0zxBAoDu6+JXW/C68UZLvBUUtU+7zonhif43rqj7pxsGyqyqzcian2Rj37Rss",
    ),
    Asset(
        "echarts",
        "5.6.0",
        "Apache-2.0",
        "NOTICE",
        "NOTICE.echarts.txt",
        "/BUHLwWS8odDyd2SheBVGjOr9m3NWaKY0rlu0lh6V+cbSFq0kM4CFZg/9U8YTbcx",
    ),
]


def sri(data: bytes) -> str:
    return base64.b64encode(hashlib.sha384(data).digest()).decode()


def _pack(spec: str, into: Path) -> Path:
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return into / out[-1]


def vendor(assets: list[Asset], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    record: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tarballs: dict[str, Path] = {}

        def read(spec: str, path: str) -> bytes:
            if spec not in tarballs:
                tarballs[spec] = _pack(spec, Path(tmp))
            with tarfile.open(tarballs[spec]) as tar:
                member = tar.extractfile(f"package/{path}")
                if member is None:  # a directory or link, not a file
                    raise FileNotFoundError(f"{spec}: package/{path} is not a file")
                return member.read()

        for asset in assets:
            spec = f"{asset.package}@{asset.version}"
            data = read(spec, asset.path)
            licence_spec, _, licence_path = asset.licence_file.rpartition(":")
            licence = read(licence_spec or spec, licence_path)
            digest = sri(data)
            if digest != asset.sha384:
                sys.exit(f"{spec} {asset.path}: sha384 {digest}, expected {asset.sha384}")
            (target / asset.target).write_bytes(data)
            licence_name = f"LICENSE.{asset.package.replace('@', '').replace('/', '-')}.txt"
            (target / licence_name).write_bytes(licence)
            record[asset.target] = {
                "package": asset.package,
                "version": asset.version,
                "licence": asset.licence,
                "licenceFile": licence_name,
                "from": f"npm:{spec}/{asset.path}",
                "sha384": digest,
            }
            print(f"{asset.target}: {spec} ({asset.licence}), {len(data)} bytes")
    (target / "VENDORED.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    vendor(GRAPHIQL, GRAPHIQL_DIR)
    vendor(FONTS, FONT_DIR)
    vendor(ECHARTS, ECHARTS_DIR)
