"""Volunteers: registration, status, personal information."""

from __future__ import annotations
