"""``manage.py generate-data``: the spelling issue 6 and DESIGN.md use, same command."""

from central.management.commands.generate_data import Command

__all__ = ["Command"]
