"""Do-Not-Call lists and their single numbers: create, empty, delete, add,
remove."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record, audited_save
from trustconsole.lib.confirm import reason_required
from voicegate.policy import keys, repair, store
from voicegate.policy.choices import DncKind, DncStorage, ImportMode
from voicegate.policy.models import DncChange, DncEntry, DncImport, DncList
from voicegate.policy.services.common import ACT, clean_country, clean_e164, clean_text
from voicegate.policy.services.imports import import_files_forget
from voicegate.policy.services.national import (
    change_floor,
    file_list_has,
    version_switch,
)


@transaction.atomic
def dnc_list_create(
    *,
    actor: Actor,
    name: str,
    kind: str = DncKind.INTERNAL,
    country: str = "",
    description: str = "",
) -> DncList:
    """Create an empty Do-Not-Call list."""
    actor.require(*ACT)
    name = clean_text(name, "name", required=True, limit=120)
    if kind not in DncKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(DncKind.values)}."})
    if DncList.objects.filter(organisation=actor.organisation, name=name).exists():
        raise ValidationError({"name": f"There is already a list named {name!r}."})
    # A national registry is far too big for a copy per process: it is kept as
    # versioned files that every process maps (registry.py).
    dnc_list = DncList(
        organisation=actor.organisation,
        name=name,
        kind=kind,
        country=clean_country(country),
        description=clean_text(description, "description", required=False, limit=500),
        storage=DncStorage.FILE if kind == DncKind.NATIONAL else DncStorage.DATABASE,
    )
    audited_save(
        dnc_list,
        actor=actor,
        action="policy.dnc_list_create",
        snapshot=["name", "kind", "country", "description", "storage"],
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return dnc_list


@transaction.atomic
def dnc_list_delete(*, actor: Actor, dnc_list: DncList, reason: str) -> None:
    """Delete a list with all its numbers (one DELETE, however long the list); the
    reason is required."""
    actor.require(*ACT)
    reason = reason_required(reason)
    audit_record(
        actor=actor,
        action="policy.dnc_list_delete",
        target=dnc_list,
        before={"name": dnc_list.name, "entry_count": dnc_list.entry_count},
        reason=reason,
    )
    import_files_forget(DncImport.objects.filter(dnc_list=dnc_list))
    DncEntry.objects.filter(dnc_list=dnc_list)._raw_delete(DncEntry.objects.db)
    public_id = dnc_list.public_id
    DncList.objects.filter(pk=dnc_list.pk).update(current_version=None)
    dnc_list.delete()
    if dnc_list.storage == DncStorage.FILE:
        transaction.on_commit(lambda: store.remove_all(public_id))
    keys.bump(keys.dnc_key(actor.organisation.pk))


@transaction.atomic
def dnc_list_empty(*, actor: Actor, dnc_list: DncList, reason: str) -> DncList:
    """Remove every number of a list (e.g. before importing a new registry file);
    the reason is required."""
    actor.require(*ACT)
    reason = reason_required(reason)
    dnc_list.refresh_from_db()
    before = dnc_list.entry_count
    if dnc_list.storage == DncStorage.FILE:
        # A new, empty version: processes switch to it as they do after an import.
        work = store.work_dir(dnc_list.public_id)
        built = store.build_full(work, None, region=None)
        version = version_switch(
            actor=actor, dnc_list=dnc_list, built=built, work=work,
            mode=ImportMode.FULL, as_of=dnc_list.as_of, source_name="(emptied)",
            change_floor=change_floor(actor.organisation.pk),
        )  # fmt: skip
        dnc_list.refresh_from_db()
        transaction.on_commit(
            lambda: repair.keep_source(dnc_list, version, None, region="")
        )
        audit_record(
            actor=actor,
            action="policy.dnc_list_empty",
            target=dnc_list,
            before={"entry_count": before},
            after={"entry_count": 0, "version": version.number},
            reason=reason,
        )
        return dnc_list
    DncEntry.objects.filter(dnc_list=dnc_list)._raw_delete(DncEntry.objects.db)
    DncList.objects.filter(pk=dnc_list.pk).update(
        entry_count=0, generation=F("generation") + 1
    )
    dnc_list.refresh_from_db()
    audit_record(
        actor=actor,
        action="policy.dnc_list_empty",
        target=dnc_list,
        before={"entry_count": before},
        after={"entry_count": 0},
        reason=reason,
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return dnc_list


@transaction.atomic
def dnc_number_add(*, actor: Actor, dnc_list: DncList, number: str) -> str:
    """Put one number on a list (E.164 returned); adding it twice changes nothing."""
    actor.require(*ACT)
    e164 = clean_e164(number, "number", region=dnc_list.country or None)
    digits = int(e164[1:])
    if dnc_list.storage == DncStorage.FILE:
        created = not file_list_has(dnc_list, digits)
    else:
        _, created = DncEntry.objects.get_or_create(dnc_list=dnc_list, number=digits)
    if not created:
        return e164
    DncList.objects.filter(pk=dnc_list.pk).update(entry_count=F("entry_count") + 1)
    DncChange.objects.create(
        organisation=actor.organisation,
        dnc_list=dnc_list,
        number=digits,
        present=True if dnc_list.storage == DncStorage.FILE else None,
    )
    audit_record(
        actor=actor,
        action="policy.dnc_number_add",
        target=dnc_list,
        after={"number": e164},
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return e164


@transaction.atomic
def dnc_number_remove(
    *, actor: Actor, dnc_list: DncList, number: str, reason: str
) -> str:
    """Take one number off a list (E.164 returned); 400 if it is not there or no
    reason is given (trustconsole/lib/confirm.py)."""
    actor.require(*ACT)
    reason = reason_required(reason)
    e164 = clean_e164(number, "number", region=dnc_list.country or None)
    digits = int(e164[1:])
    deleted: int | bool
    if dnc_list.storage == DncStorage.FILE:
        deleted = file_list_has(dnc_list, digits)
    else:
        deleted, _ = DncEntry.objects.filter(dnc_list=dnc_list, number=digits).delete()
    if not deleted:
        raise ValidationError({"number": f"{e164} is not on the list {dnc_list.name}."})
    DncList.objects.filter(pk=dnc_list.pk).update(entry_count=F("entry_count") - 1)
    DncChange.objects.create(
        organisation=actor.organisation,
        dnc_list=dnc_list,
        number=digits,
        present=False if dnc_list.storage == DncStorage.FILE else None,
    )
    audit_record(
        actor=actor,
        action="policy.dnc_number_remove",
        target=dnc_list,
        before={"number": e164},
        reason=reason,
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return e164
