"""The container starts make static files ready before gunicorn serves a page."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _collects_before_gunicorn(command: str) -> bool:
    return bool(re.search(r"collectstatic --noinput.*&&.*gunicorn", command, re.S))


def test_the_image_and_the_compose_web_service_collect_static_files_at_start() -> None:
    """GIVEN a /data volume that hides or outdates the build-time copy WHEN the web
    container starts THEN collectstatic runs before gunicorn (else every page 500s
    with "Missing staticfiles manifest entry")."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert _collects_before_gunicorn(cmd)
    compose = (ROOT / "docker-compose.yml").read_text()
    web = compose.split("\n  web:\n", 1)[1].split("\n  worker:\n", 1)[0]
    assert _collects_before_gunicorn(web)
