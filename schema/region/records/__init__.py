"""Service records: the record, its lifecycle, amendments, corrections, stars, the card."""

from __future__ import annotations
