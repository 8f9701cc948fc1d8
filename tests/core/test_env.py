"""The typed environment helpers refuse malformed values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from trustconsole.env import (
    env_bool,
    env_days,
    env_int,
    env_list,
    env_secret_key,
    env_str,
)


def test_it_reads_booleans_strictly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "true")
    assert env_bool("X_FLAG", default=False) is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env_bool("X_FLAG", default=True) is False
    monkeypatch.setenv("X_FLAG", "yes please")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", default=False)


def test_it_reads_integers_with_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_int("X_MISSING", 7) == 7
    monkeypatch.setenv("X_NUM", "12")
    assert env_int("X_NUM", 1, minimum=10) == 12
    monkeypatch.setenv("X_NUM", "3")
    with pytest.raises(ImproperlyConfigured, match="at least 10"):
        env_int("X_NUM", 1, minimum=10)
    monkeypatch.setenv("X_NUM", "twelve")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUM", 1)


def test_it_reads_integers_bounded_above(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_NUM", "50")
    assert env_int("X_NUM", 1, maximum=50) == 50
    monkeypatch.setenv("X_NUM", "51")
    with pytest.raises(ImproperlyConfigured, match="X_NUM=51 must be at most 50"):
        env_int("X_NUM", 1, maximum=50)


def test_it_reads_retention_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """0 keeps forever; any other retention is at least the minimum."""
    assert env_days("X_DAYS", 400, minimum=7) == 400
    for raw, days in (("0", 0), ("7", 7), (" 730 ", 730)):
        monkeypatch.setenv("X_DAYS", raw)
        assert env_days("X_DAYS", 400, minimum=7) == days
    for raw in ("6", "1", "-1"):
        monkeypatch.setenv("X_DAYS", raw)
        with pytest.raises(
            ImproperlyConfigured,
            match=r"use 0 \(keep forever\) or a number of days of at least 7",
        ):
            env_days("X_DAYS", 400, minimum=7)
    monkeypatch.setenv("X_DAYS", "a year")
    with pytest.raises(ImproperlyConfigured, match="X_DAYS='a year' is not an integer"):
        env_days("X_DAYS", 400, minimum=7)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("VOICEGATE_CALL_LOG_DAYS", "3", "VOICEGATE_CALL_LOG_DAYS=3 is not a"),
        ("POLICY_DENIAL_LOG_DAYS", "30", "POLICY_DENIAL_LOG_DAYS=30 is not a"),
        ("POLICY_DENIAL_LOG_DAYS", "forever", "'forever' is not an integer"),
        ("RETENTION_DELETE_BATCH", "1000000", "must be at most 50000"),
        ("VOICEGATE_OUTBOX_DAYS", "3", "VOICEGATE_OUTBOX_DAYS=3 is not a"),
        ("VOICEGATE_OUTBOX_DAYS", "-1", "VOICEGATE_OUTBOX_DAYS=-1 is not a"),
        (
            "VISITORS_BLOCKED_ATTEMPTS_DAYS",
            "29",
            "VISITORS_BLOCKED_ATTEMPTS_DAYS=29 is not a",
        ),
        ("VISITORS_BLOCKED_ATTEMPTS_DAYS", "1y", "'1y' is not an integer"),
    ],
)
def test_it_refuses_to_start_with_a_bad_retention(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    """GIVEN a retention setting the console cannot honour WHEN Django starts THEN
    it refuses, naming the variable and what it accepts."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "true",
        "TRUSTCONSOLE_DATA_DIR": str(tmp_path),
        name: value,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert says in result.stderr


def test_it_splits_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_HOSTS", " a.example , ,b.example")
    assert env_list("X_HOSTS") == ["a.example", "b.example"]
    assert env_list("X_NONE", ["localhost"]) == ["localhost"]


def test_it_reads_secrets_from_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_str("X_SECRET") == "from-a-file"
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        env_str("X_SECRET")


def test_it_generates_and_keeps_a_local_secret_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = env_secret_key(tmp_path, debug=True)
    assert len(first) > 40
    assert env_secret_key(tmp_path, debug=True) == first


def test_it_refuses_to_start_in_production_without_a_secret_key(tmp_path: Path) -> None:
    """GIVEN DEBUG off and no SECRET_KEY WHEN Django starts THEN it refuses."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "TRUSTCONSOLE_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_migration_commands_run_without_a_secret_key(tmp_path: Path) -> None:
    """GIVEN DEBUG off and no SECRET_KEY WHEN makemigrations --check runs THEN it
    works (it signs nothing), while the key file is never written."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "TRUSTCONSOLE_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout
    assert not (tmp_path / "secret_key").exists()
