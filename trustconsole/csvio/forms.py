"""The upload form of a CSV import."""

from __future__ import annotations

from django import forms


class ImportForm(forms.Form):
    """A CSV file, checked first (dry run) unless told to import at once."""

    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, with a header row; several values in one cell are "
        "separated by “;”.",
    )
    dry_run = forms.BooleanField(
        label="Dry run: show what would change and every problem, change nothing",
        required=False,
        initial=True,
    )
