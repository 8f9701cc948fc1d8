"""Credentials at rest: Fernet encryption keyed by ENCRYPTION_KEYS, and its field.

Every stored credential the console must read back (provider auth tokens and API
keys, webhook signing secrets) is an `EncryptedTextField`: the database holds a
Fernet token, Python code sees the plain text. The keys come from the
`ENCRYPTION_KEYS` setting, newest first: values are written with the newest key and
read with any of them, so a new key can be put in front before
`manage.py rotate_encryption_keys` re-encrypts what is stored. The keys are
independent of SECRET_KEY, which can be rotated on its own.

A value that no key opens is read as an `UnreadableCredential`: an empty string that
remembers the stored token, so that saving its row again keeps the token (it opens
again once the right key is back) and pages say what is wrong instead of failing.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models import lookups

logger = logging.getLogger(__name__)

SETTING = "ENCRYPTION_KEYS"
UNREADABLE = (
    "credential unreadable: ENCRYPTION_KEYS does not hold the key it was encrypted with"
)
HINT_MASK = "••••"
HINT_PASTED = "That is how the console shows the stored value; paste the value itself."
# Values shorter than this show no characters at all in their hint.
HINT_MIN_LENGTH = 12
GENERATE_COMMAND = (
    'python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class CredentialUnreadable(Exception):
    """No key in ENCRYPTION_KEYS opens a stored value."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(UNREADABLE + (f" ({detail})" if detail else ""))


class UnreadableCredential(str):
    """A stored value no configured key opens: '' in Python, its token kept."""

    token: str

    def __new__(cls, token: str) -> UnreadableCredential:
        value = super().__new__(cls, "")
        value.token = token
        return value

    def __repr__(self) -> str:
        return "<UnreadableCredential>"

    def __reduce__(self) -> Any:
        return (UnreadableCredential, (self.token,))


def key_check(key: str, *, position: int) -> None:
    """Raise ImproperlyConfigured unless `key` is a Fernet key."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"ENCRYPTION_KEYS: key {position} is not a Fernet key (32 bytes, url-safe "
            f"base64, 44 characters); generate one with: {GENERATE_COMMAND}"
        ) from exc


@functools.lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise ImproperlyConfigured("ENCRYPTION_KEYS is empty")
    fernets = [Fernet(key.encode()) for key in keys]
    return MultiFernet(fernets), fernets[0]


def _keys() -> tuple[MultiFernet, Fernet]:
    # Keyed by the setting's value, so a changed setting (tests) takes effect.
    return _fernets(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    """A Fernet token of `plain` under the newest key."""
    return _keys()[0].encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text of a token; raises CredentialUnreadable if no key opens it."""
    try:
        return _keys()[0].decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, UnicodeDecodeError) as exc:
        raise CredentialUnreadable from exc


def is_current(token: str) -> bool:
    """Whether `token` is already encrypted with the newest key."""
    try:
        _keys()[1].decrypt(token.encode())
    except (InvalidToken, ValueError):
        return False
    return True


def reencrypt(token: str) -> str:
    """The same plain text under the newest key; raises CredentialUnreadable."""
    try:
        return _keys()[0].rotate(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise CredentialUnreadable from exc


def is_unreadable(value: object) -> bool:
    """Whether a field value could not be decrypted."""
    return isinstance(value, UnreadableCredential)


def hint(value: str | None) -> str:
    """How pages and the API show a stored credential: never the value itself.

    '••••abcd' (its last four characters; only the mask for short values), '' when
    there is none, or the reason it cannot be read.
    """
    if is_unreadable(value):
        return UNREADABLE
    if not value:
        return ""
    if len(value) < HINT_MIN_LENGTH:
        return HINT_MASK
    return HINT_MASK + value[-4:]


def is_hint(value: str | None) -> bool:
    """Whether `value` is a hint pasted back instead of a credential."""
    return bool(value) and (str(value).startswith(HINT_MASK) or value == UNREADABLE)


class _EmptyOnlyExact(lookups.Exact):
    # Fernet tokens differ on every encryption: equality with a value can never
    # match, so only "is it blank" may be asked.
    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise FieldError(
                "An encrypted field can only be compared with '' (is it blank?)."
            )
        return super().get_prep_lookup()


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored as a Fernet token under ENCRYPTION_KEYS; '' stays ''."""

    description = "Text encrypted at rest with ENCRYPTION_KEYS"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        try:
            return decrypt(value)
        except CredentialUnreadable:
            logger.error("%s.%s: %s", self.model._meta.label, self.name, UNREADABLE)
            return UnreadableCredential(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, UnreadableCredential):
            return value.token  # kept as it was: readable again once its key is back
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)

    def validate(self, value: Any, model_instance: Any) -> None:
        if isinstance(value, UnreadableCredential):
            return  # validated when it was stored; not blank, only unreadable
        super().validate(value, model_instance)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "exact":
            return _EmptyOnlyExact
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with encrypted fields, and their names (for rotation)."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        names = [
            f.name
            for f in model._meta.get_fields()
            if isinstance(f, EncryptedTextField) and f.concrete
        ]
        if names:
            found.append((model, names))
    return found
