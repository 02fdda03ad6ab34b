"""The checked-in SDL files and how they are rendered from the code."""

from __future__ import annotations

from pathlib import Path

from strawberry.printer import print_schema

HERE = Path(__file__).resolve().parent
SDL_FILES = {"region": HERE / "schema.graphql", "central": HERE / "central.graphql"}


def render_sdl() -> dict[Path, str]:
    from schema.central import schema as central_schema
    from schema.region import schema as region_schema

    return {
        SDL_FILES["region"]: print_schema(region_schema) + "\n",
        SDL_FILES["central"]: print_schema(central_schema) + "\n",
    }
