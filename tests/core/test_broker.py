"""The embedded broker never shows a half-written message to a worker."""

from __future__ import annotations

from pathlib import Path

from kombu import Connection

from trustconsole.lib import broker


def test_a_message_appears_only_once_it_is_complete(tmp_path: Path, monkeypatch):
    """GIVEN a message being written WHEN a reader lists the folder mid-write THEN
    it sees no `.msg` file yet; afterwards the whole message is there and read."""
    seen_during_write: list[list[str]] = []
    real_replace = Path.replace

    def replace(self: Path, target: Path) -> Path:
        seen_during_write.append(
            [p.name for p in tmp_path.iterdir() if p.name.endswith(".q.msg")]
        )
        return real_replace(self, target)

    monkeypatch.setattr(broker.Path, "replace", replace)
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection(
        "filesystem://", transport=broker.Transport, transport_options=options
    ) as conn:
        channel = conn.default_channel
        channel._put("q", {"body": "x" * 100_000})
        assert seen_during_write == [[]]
        names = [p.name for p in tmp_path.iterdir()]
        assert len(names) == 1 and names[0].endswith(".q.msg")
        assert channel._get("q") == {"body": "x" * 100_000}


def test_the_embedded_broker_uses_it(settings) -> None:
    """Without REDIS_URL the app's broker URL names this transport."""
    from trustconsole.celery import app

    if not settings.REDIS_URL:
        assert settings.CELERY_BROKER_URL == "atomicfs://"
        with app.connection_for_write() as conn:
            assert isinstance(conn.transport, broker.Transport)
    else:
        assert app.conf.broker_url == settings.REDIS_URL
