"""Accounts: logging in, the logged-in account, its work queues."""

from __future__ import annotations
