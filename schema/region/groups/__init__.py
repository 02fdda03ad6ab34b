"""Volunteer groups and their members."""

from __future__ import annotations
