"""Trainings, awards and complaints (000 Art.11-13)."""

from __future__ import annotations
