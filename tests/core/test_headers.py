"""Security headers: a Content-Security-Policy on every page, HSTS behind TLS, and
`check --deploy` clean with the README's production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_every_page_carries_the_policy_and_json_does_not_need_it(client, alice) -> None:
    login_page = client.get("/login/")
    policy = login_page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert client.get("/no-such-page/")["Content-Security-Policy"] == policy
    member = Client()
    member.force_login(alice)
    assert member.get("/")["Content-Security-Policy"] == policy
    docs = member.get("/api/docs/")
    assert "style-src 'self' 'unsafe-inline'" in docs["Content-Security-Policy"]
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    assert "<script>" not in docs.content.decode()  # its start-up script is a file
    assert "Content-Security-Policy" not in client.get("/healthz")


def test_pages_have_no_inline_script_or_handlers(alice) -> None:
    """The policy would block them; none is left in what the console renders."""
    member = Client()
    member.force_login(alice)
    for path in ("/", "/settings/members/", "/settings/tokens/", "/voice/connections/"):
        html = member.get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert ' style="' not in html, path


def test_hsts_is_sent_over_https_only(client, settings) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    secure = client.get("/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/login/")


def test_behind_a_tls_proxy_http_is_redirected_except_machine_paths(
    client, settings
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = client.get("/login/")
    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert client.get("/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


def test_check_deploy_is_clean_with_the_readmes_production_settings(
    tmp_path,
) -> None:
    """GIVEN the production settings the README lists WHEN `check --deploy` runs
    THEN the only warnings are the two the README explains (HSTS for subdomains
    and preload are decisions about the whole domain)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n# production settings\n(.*?)```", readme, re.S)
    assert block, "README has a '# production settings' block"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("SECURE_", "DEBUG", "DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEYS")
        )
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"  # a test-runner setting
    }
    for line in block.group(1).splitlines():
        name, _, value = line.strip().partition("=")
        if name and not name.startswith("#"):
            env[name] = value.split("  #")[0].strip()
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    env["TRUSTCONSOLE_DATA_DIR"] = str(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "trustconsole.settings"
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    found = set(re.findall(r"\((\w+\.[WE]\d+)\)", out.stdout + out.stderr))
    assert out.returncode == 0, out.stderr
    assert found == {"security.W005", "security.W021"}, out.stdout + out.stderr
