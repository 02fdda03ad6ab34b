"""``manage.py generate-data``: the spelling issue 6 used, same command."""

from tenants.generator.management.commands.generate_data import Command

__all__ = ["Command"]
