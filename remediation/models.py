"""Models of the remediation app."""

from __future__ import annotations
