"""Models of the visitors app."""

from __future__ import annotations
