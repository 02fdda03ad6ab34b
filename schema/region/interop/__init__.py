"""Transfers of a volunteer's records between regions (转移接续)."""

from __future__ import annotations
