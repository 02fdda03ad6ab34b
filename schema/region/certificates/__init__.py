"""Certificates of service (志愿服务记录证明)."""

from __future__ import annotations
