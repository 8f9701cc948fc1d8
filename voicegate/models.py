"""Models of the voicegate app."""

from __future__ import annotations
