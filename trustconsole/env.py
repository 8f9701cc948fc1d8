"""Typed environment helpers: malformed values fail loudly at start-up."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "on"}
_FALSE = {"0", "false", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return a string variable; `<NAME>_FILE` names a file holding the value."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, *, default: bool) -> bool:
    """Return a boolean; only 1/0, true/false, on/off are accepted."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean (use true/false, 1/0 or on/off)"
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return an integer, optionally bounded below and above."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} must be at most {maximum}")
    return value


def env_days(name: str, default: int, *, minimum: int) -> int:
    """Return a retention in days: 0 keeps forever, anything else is at least
    `minimum` (what the console itself reads back; fewer would make pages lie)."""
    value = env_int(name, default)
    if value != 0 and value < minimum:
        raise ImproperlyConfigured(
            f"{name}={value} is not a retention: use 0 (keep forever) or a number "
            f"of days of at least {minimum}"
        )
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Return a comma-separated list with blanks removed."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name: str, default: str) -> tuple[int, int]:
    """Return a rate limit written `COUNT/SECONDS` (e.g. `600/60`); `0/…` = off."""
    raw = (os.environ.get(name) or default).strip()
    count, sep, seconds = raw.partition("/")
    try:
        limit, window = int(count), int(seconds)
    except ValueError:
        limit, window = -1, -1
    if not sep or limit < 0 or window < 1:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a rate (use COUNT/SECONDS, e.g. 600/60; "
            "0/60 turns the limit off)"
        )
    return limit, window


_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "---", "insecure"}


def env_secret_key(data_dir: Path, *, debug: bool, signs: bool = True) -> str:
    """Return SECRET_KEY: required in production, generated once for local runs.

    `signs=False` is for processes that never sign anything (writing or listing
    migrations, exporting the API schema): they get a throwaway key instead of a
    refusal, so those commands run on a checkout without secrets.
    """
    value = env_str("SECRET_KEY")
    if value.strip().lower() not in _PLACEHOLDERS:
        return value
    if not debug and not signs:
        return secrets.token_urlsafe(50)
    if not debug:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a real secret when DEBUG is off "
            "(or set SECRET_KEY_FILE to a file holding it)"
        )
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(50)
    key_file.write_text(generated)
    key_file.chmod(0o600)
    return generated


def env_encryption_keys(
    data_dir: Path, *, debug: bool, decrypts: bool = True
) -> list[str]:
    """Return ENCRYPTION_KEYS (Fernet keys, newest first): required in production,
    generated once into the data dir for local runs.

    `decrypts=False` is for processes that never read a stored credential (the same
    schema-only commands as for SECRET_KEY): they get a throwaway key.
    """
    from cryptography.fernet import Fernet

    from trustconsole.lib.crypto import GENERATE_COMMAND, key_check

    keys = _split_keys(env_str("ENCRYPTION_KEYS"))
    if keys:
        for position, key in enumerate(keys, start=1):
            key_check(key, position=position)
        return keys
    if not debug and not decrypts:
        return [Fernet.generate_key().decode()]
    if not debug:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS must be set when DEBUG is off (or ENCRYPTION_KEYS_FILE "
            f"to a file holding it); generate a key with: {GENERATE_COMMAND}"
        )
    key_file = data_dir / "encryption_keys"
    if not key_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written aside and linked into place: parallel first starts agree on one key.
        draft = data_dir / f".encryption_keys.{os.getpid()}"
        draft.write_text(Fernet.generate_key().decode() + "\n")
        draft.chmod(0o600)
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    keys = _split_keys(key_file.read_text())
    for position, key in enumerate(keys, start=1):
        key_check(key, position=position)
    if not keys:
        raise ImproperlyConfigured(f"{key_file} holds no key; delete it to start anew")
    return keys


def _split_keys(raw: str) -> list[str]:
    # A key file may hold one key per line or a comma-separated list.
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
