"""CSV import and export of visitors, the voice block list and IP blocks."""

from __future__ import annotations

from django.apps import AppConfig


class CsvioConfig(AppConfig):
    """Configuration of the CSV import/export app."""

    name = "trustconsole.csvio"
    label = "csvio"
    verbose_name = "CSV import and export"
