"""The README's "Building a front-end" snippets are the text the client tests run
(tests/clients/cache, tests/test_identity.py): a snippet that drifts fails here."""

from __future__ import annotations

import re

from tests.support import REPO, code_blocks, readme_section

RUN_BY = [
    REPO / "tests/clients/cache/apollo.mjs",
    REPO / "tests/clients/cache/urql.mjs",
    REPO / "tests/clients/cache/relay/Relay.js",
    REPO / "tests/test_identity.py",
]
OURS = ("### Cache keys and identity", "### Pagination", "### Relay")


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _snippets() -> list[str]:
    blocks = []
    for part in re.split(r"\n(?=### )", readme_section("Building a front-end")):
        if part.startswith(OURS):
            blocks += code_blocks(part)
    return blocks


def test_every_snippet_is_what_a_test_runs():
    snippets = _snippets()
    assert len(snippets) >= 4
    sources = _collapsed("\n".join(path.read_text() for path in RUN_BY))
    for snippet in snippets:
        assert _collapsed(snippet) in sources, snippet
