"""Transports: how hostprep runs commands and moves files on a host (SSH or local)."""

from hostprep.transport.base import RunResult, Transport

__all__ = ["RunResult", "Transport"]
