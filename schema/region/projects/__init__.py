"""Volunteer-service projects and the applications to them."""

from __future__ import annotations
