"""Serializer fields that take JSON types at their word."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of converting them.

    DRF's CharField turns `5` into `"5"`; for a chat message or an identifier a
    number is a client bug the client should hear about.
    """

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
