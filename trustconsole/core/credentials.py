"""Re-encrypting stored credentials with the newest key of ENCRYPTION_KEYS.

Every `EncryptedTextField` of every model is visited in primary-key batches; a value
already under the newest key is left alone (so a second run changes nothing), any
other one is decrypted with whichever configured key opens it and encrypted again
with the newest. Each batch is one transaction whose rows are locked while they are
rewritten, so a concurrent edit is never overwritten by an older value. Every
organisation whose credentials changed gets one audit entry per run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models, transaction
from django.db.models import ExpressionWrapper, F, Value

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.core.services import audit_record
from trustconsole.lib import crypto

ROTATE_ACTION = "core.credentials_reencrypt"


@dataclass
class RotationReport:
    """What a run found and did."""

    checked: int = 0  # stored (non-blank) values looked at
    current: int = 0  # already under the newest key
    reencrypted: int = 0  # re-encrypted (or, in a dry run, would be)
    unreadable: list[str] = field(default_factory=list)  # "model #pk field"
    # (organisation id, model's plural name) -> values re-encrypted
    by_organisation: Counter[tuple[int | None, str]] = field(default_factory=Counter)


def _raw(name: str) -> ExpressionWrapper[F]:
    # The column as stored: a plain text output field skips the decrypting converter.
    return ExpressionWrapper(F(name), output_field=models.TextField())


def _rotate_model(
    model: type[models.Model],
    names: list[str],
    *,
    batch_size: int,
    dry_run: bool,
    report: RotationReport,
    progress: Callable[[str], None],
) -> None:
    label = model._meta.label
    plural = str(model._meta.verbose_name_plural)
    has_org = any(f.name == "organisation" for f in model._meta.concrete_fields)
    org_column = "organisation_id" if has_org else "pk"
    manager = model._base_manager
    total = manager.count()
    seen = changed = 0
    last_pk = None
    while True:
        with transaction.atomic():
            rows = manager.all() if dry_run else manager.select_for_update()
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(
                rows.order_by("pk")
                .annotate(**{f"_raw_{n}": _raw(n) for n in names})
                .values_list("pk", org_column, *(f"_raw_{n}" for n in names))[
                    :batch_size
                ]
            )
            for pk, org_id, *tokens in batch:
                updates = {}
                for name, token in zip(names, tokens, strict=True):
                    if not token:
                        continue
                    report.checked += 1
                    if crypto.is_current(token):
                        report.current += 1
                        continue
                    try:
                        updates[name] = crypto.reencrypt(token)
                    except crypto.CredentialUnreadable:
                        report.unreadable.append(f"{label} #{pk} {name}")
                if not updates:
                    continue
                changed += len(updates)
                report.reencrypted += len(updates)
                report.by_organisation[(org_id if has_org else None, plural)] += len(
                    updates
                )
                if not dry_run:
                    manager.filter(pk=pk).update(
                        **{
                            name: Value(token, output_field=models.TextField())
                            for name, token in updates.items()
                        }
                    )
        if not batch:
            if seen == 0:
                progress(f"{label}: no rows")
            break
        seen += len(batch)
        last_pk = batch[-1][0]
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        progress(f"{label}: {seen}/{total} rows checked, {changed} value(s) {verb}")
        if len(batch) < batch_size:
            break


def credentials_reencrypt(
    *,
    batch_size: int = 200,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> RotationReport:
    """Re-encrypt every stored credential with the newest key; audited per org."""
    report = RotationReport()
    for model, names in crypto.encrypted_fields():
        _rotate_model(
            model,
            names,
            batch_size=batch_size,
            dry_run=dry_run,
            report=report,
            progress=progress,
        )
    if dry_run:
        return report
    per_org: dict[int, dict[str, int]] = {}
    for (org_id, plural), count in report.by_organisation.items():
        if org_id is not None:
            per_org.setdefault(org_id, {})[plural] = count
    for organisation in Organisation.objects.filter(pk__in=per_org):
        counts = per_org[organisation.pk]
        words = ", ".join(f"{n} in {plural}" for plural, n in sorted(counts.items()))
        audit_record(
            actor=Actor.system_for(organisation, "rotate_encryption_keys"),
            action=ROTATE_ACTION,
            target=organisation,
            after={"credentials re-encrypted": sum(counts.values()), **counts},
            reason="Stored credentials re-encrypted with the newest key of "
            f"ENCRYPTION_KEYS: {words}.",
        )
    return report
