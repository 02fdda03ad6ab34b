"""The checked-in SDL files match the code (run ``manage.py export_schema`` after API changes)."""

from schema.export import render_sdl


def test_checked_in_sdl_matches_the_code():
    for path, text in render_sdl().items():
        assert path.exists(), f"{path.name} is missing; run manage.py export_schema"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale; run manage.py export_schema"
        )
