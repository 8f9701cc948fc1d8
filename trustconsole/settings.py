"""Django settings: everything comes from the environment, with safe defaults.

Without any variables set, the console runs on a SQLite file and an embedded
file-system Celery broker under the data directory, so `make run` needs no server.
`DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from trustconsole.env import (
    env_bool,
    env_days,
    env_encryption_keys,
    env_int,
    env_list,
    env_rate,
    env_secret_key,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# A `.env` file beside manage.py, if present, fills in variables not already set.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# Local state (SQLite file, embedded broker, secret key); relative paths are
# taken from the project directory.
DATA_DIR = (BASE_DIR / (env_str("TRUSTCONSOLE_DATA_DIR") or "var")).resolve()

DEBUG = env_bool("DEBUG", default=False)
# Management commands that read code and schema only, never sign anything.
_UNSIGNED_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate", "spectacular"}
SECRET_KEY = env_secret_key(
    DATA_DIR,
    debug=DEBUG,
    signs=not (
        Path(sys.argv[0]).name == "manage.py"
        and len(sys.argv) > 1
        and sys.argv[1] in _UNSIGNED_COMMANDS
    ),
)
# Stored credentials (provider tokens, API keys, webhook secrets) are encrypted with
# these Fernet keys, newest first; independent of SECRET_KEY. The commands above
# read no stored credential either.
ENCRYPTION_KEYS = env_encryption_keys(
    DATA_DIR,
    debug=DEBUG,
    decrypts=not (
        Path(sys.argv[0]).name == "manage.py"
        and len(sys.argv) > 1
        and sys.argv[1] in _UNSIGNED_COMMANDS
    ),
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "trustconsole.core",
    "trustconsole.policy",
    "trustconsole.rules",
    "trustconsole.workqueue",
    "visitors",
    "voicegate",
    "accounts",
    "remediation",
    "trustconsole.csvio",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "trustconsole.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "trustconsole.lib.params.QueryGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "trustconsole.core.middleware.ActorMiddleware",
]

ROOT_URLCONF = "trustconsole.urls"
WSGI_APPLICATION = "trustconsole.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trustconsole.core.context_processors.console",
                "trustconsole.core.context_processors.nav_badges",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
_sqlite_path = DATA_DIR / "trustconsole.sqlite3"
DATABASES = {
    "default": environ.Env.db_url_config(
        env_str("DATABASE_URL") or f"sqlite:///{_sqlite_path}"
    )
}
SILENCED_SYSTEM_CHECKS: list[str] = []
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The covering indexes (INCLUDE) the visitors' phone map uses on PostgreSQL are
    # plain indexes on SQLite; that is expected, not worth a warning on every start.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web, worker and beat processes read while one writes;
        # IMMEDIATE avoids "database is locked" upgrades mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file (not :memory:) so that a Celery worker started by a test sees it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # A new PostgreSQL connection per request costs ~3 ms; keep them.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery -----------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
BROKER_DIR = DATA_DIR / "broker"

# Parallel test workers (pytest-xdist) share one Redis and data dir: each keeps its
# own cache keys. Outside tests the suffix is empty.
_TEST_WORKER = env_str("PYTEST_XDIST_WORKER")
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "tc-cache") + _TEST_WORKER
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # The broker uses the same server: keep cache keys apart.
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    CACHES = {
        "default": {
            # Shared by web, worker and beat processes on one machine.
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / f"cache{_TEST_WORKER}"),
        }
    }
    # kombu's file-system transport with atomic writes (trustconsole/lib/broker.py,
    # registered under this scheme in trustconsole/celery.py): a process polling
    # the folder never reads a half-written message or exchange table.
    CELERY_BROKER_URL = "trustconsole-fs://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(DATA_DIR / "broker-control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# The queue tasks go to unless routed elsewhere (workers consume it by default).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE") or "celery"
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360, minimum=1)
CELERY_WORKER_MAX_TASKS_PER_CHILD = 500
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Every periodic task is declared here, each expiring before its next run.
CELERY_BEAT_SCHEDULE = {
    "core-housekeeping": {
        "task": "core.housekeeping",
        "schedule": env_int("HOUSEKEEPING_INTERVAL", 60, minimum=5),
        "options": {"expires": 50},
    },
    "policy-changes-prune": {
        "task": "policy.changes_prune",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}
# Audit retention: entries older than this many days are pruned daily (0: kept
# forever, the default). `manage.py prune_audit --days N` does it by hand.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 0, minimum=0)
if AUDIT_RETENTION_DAYS:
    CELERY_BEAT_SCHEDULE["core-audit-prune"] = {
        "task": "core.audit_prune",
        "schedule": 86400,
        "options": {"expires": 3600},
    }
# The call log and the refused outbound calls are pruned hourly by beat in batches
# of this many rows (voicegate/retention.py): each batch a short transaction of its
# own, never one DELETE of a year's rows.
RETENTION_DELETE_BATCH = env_int(
    "RETENTION_DELETE_BATCH", 5000, minimum=100, maximum=50_000
)
# accounts: continuous review of active customer accounts, signal and port-away
# expiry.
ACCOUNTS_REVIEW_INTERVAL = env_int("ACCOUNTS_REVIEW_INTERVAL", 3600, minimum=60)
CELERY_BEAT_SCHEDULE["accounts-continuous-review"] = {
    "task": "accounts.continuous_review",
    "schedule": ACCOUNTS_REVIEW_INTERVAL,
    "options": {"expires": ACCOUNTS_REVIEW_INTERVAL - 30},
}
CELERY_BEAT_SCHEDULE["accounts-signals-expire"] = {
    "task": "accounts.signals_expire",
    "schedule": 60,
    "options": {"expires": 50},
}
CELERY_BEAT_SCHEDULE["accounts-port-away-expiry"] = {
    "task": "accounts.port_away_expire",
    "schedule": 300,
    "options": {"expires": 270},
}

# visitors: signal/IP-block expiry (beat), the chat widget gate's rules and proxies.
VISITORS_EXPIRY_INTERVAL = env_int("VISITORS_EXPIRY_INTERVAL", 60, minimum=5)
# Blocked attempts (a visitor's list, the dashboard's chart): days kept, 0
# forever; otherwise at least 30 (the dashboard charts 30 days). A visitor's
# blocked_attempts counter is a lifetime count and stays. Pruned hourly.
VISITORS_BLOCKED_ATTEMPTS_DAYS = env_days(
    "VISITORS_BLOCKED_ATTEMPTS_DAYS", 400, minimum=30
)
CELERY_BEAT_SCHEDULE["visitors-blocked-attempts-prune"] = {
    "task": "visitors.blocked_attempts_prune",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}
CELERY_BEAT_SCHEDULE["visitors-expire"] = {
    "task": "visitors.expire_due",
    "schedule": VISITORS_EXPIRY_INTERVAL,
    "options": {"expires": max(VISITORS_EXPIRY_INTERVAL - 5, 1)},
}
# Proxies (addresses or CIDR ranges) whose X-Forwarded-For the widget gate trusts
# to name the client IP; empty: the connecting address is the client.
VISITORS_TRUSTED_PROXIES = env_list("VISITORS_TRUSTED_PROXIES")
for _proxy in VISITORS_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"VISITORS_TRUSTED_PROXIES: {_proxy!r} is not an IP address or CIDR range"
        ) from _exc
# Words or phrases that make a chat message a "flagged keyword" event.
VISITORS_FLAGGED_KEYWORDS = env_list(
    "VISITORS_FLAGGED_KEYWORDS",
    ["gift card", "wire transfer", "bitcoin wallet", "kill you", "send nudes"],
)
# More than MAX messages from one visitor within WINDOW seconds: "message velocity".
VISITORS_VELOCITY_MAX = env_int("VISITORS_VELOCITY_MAX", 10, minimum=1)
VISITORS_VELOCITY_WINDOW = env_int("VISITORS_VELOCITY_WINDOW", 60, minimum=1)

# Rules as data (trustconsole/rules): a rule over its time budget this many
# evaluations in a row is turned off; hit counts (with the match log and the
# outbound check log) are written this often by each serving process's background
# flusher, which a process that ends waits for at most RULES_FLUSH_EXIT_SECONDS.
RULES_TIME_BUDGET_US = env_int("RULES_TIME_BUDGET_US", 2000, minimum=10)
RULES_BUDGET_STRIKES = env_int("RULES_BUDGET_STRIKES", 3, minimum=1)
RULES_HITS_FLUSH_SECONDS = env_int("RULES_HITS_FLUSH_SECONDS", 10, minimum=0)
RULES_FLUSH_EXIT_SECONDS = env_int("RULES_FLUSH_EXIT_SECONDS", 5, minimum=0)
# Serving processes (gunicorn workers, the Celery worker) freeze what they loaded
# out of the cyclic garbage collector's reach and collect the young generation
# once per GC_GEN0_THRESHOLD new container objects (trustconsole.lib.gctune).
GC_FREEZE = env_bool("GC_FREEZE", default=True)
GC_GEN0_THRESHOLD = env_int("GC_GEN0_THRESHOLD", 10_000, minimum=100)
# The match log (shadow against real on chat, signups, usage reviews): rows kept
# per rule and hour, and days kept (purged hourly by beat).
RULES_MATCH_LOG_PER_HOUR = env_int("RULES_MATCH_LOG_PER_HOUR", 200, minimum=1)
RULES_MATCH_LOG_DAYS = env_int("RULES_MATCH_LOG_DAYS", 30, minimum=1)
CELERY_BEAT_SCHEDULE["rules-matches-prune"] = {
    "task": "rules.matches_prune",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}
# A visitor review item waiting longer than this is overdue (red nav badge).
VISITORS_REVIEW_OVERDUE_HOURS = env_int("VISITORS_REVIEW_OVERDUE_HOURS", 24, minimum=1)

# voicegate: the inbound call gate.
# Public base URL of this console as the providers reach it (shown in setup steps and
# used to check Twilio/Plivo signatures, which sign the full URL they called).
VOICEGATE_PUBLIC_BASE_URL = env_str("VOICEGATE_PUBLIC_BASE_URL")
VOICEGATE_TELNYX_API_BASE = env_str(
    "VOICEGATE_TELNYX_API_BASE", "https://api.telnyx.com/v2"
)
VOICEGATE_TELNYX_TIMEOUT = float(env_str("VOICEGATE_TELNYX_TIMEOUT", "2.0"))
# Reject commands are sent by this many threads per process beside the request
# (voicegate/sender.py); 0 sends them in the request. A full queue sends in the
# request too.
VOICEGATE_REJECT_SENDERS = env_int("VOICEGATE_REJECT_SENDERS", 4, minimum=0)
VOICEGATE_REJECT_QUEUE = env_int("VOICEGATE_REJECT_QUEUE", 256, minimum=1)
VOICEGATE_FORWARD_TIMEOUT = float(env_str("VOICEGATE_FORWARD_TIMEOUT", "5.0"))
# Faults: after a Redis error the gate decides from the database and tries Redis
# again after RETRY seconds; state read from the database then is re-read every
# DEGRADED_RELOAD seconds. SPOOL_MAX bounds what a process keeps in memory for the
# call log while Redis or the database is away.
VOICEGATE_REDIS_RETRY_SECONDS = float(env_str("VOICEGATE_REDIS_RETRY_SECONDS", "1.0"))
VOICEGATE_DEGRADED_RELOAD_SECONDS = float(
    env_str("VOICEGATE_DEGRADED_RELOAD_SECONDS", "5.0")
)
VOICEGATE_SPOOL_MAX = env_int("VOICEGATE_SPOOL_MAX", 100_000, minimum=100)
# The outbox (reject retries, forwards): drain interval, attempts, first retry delay.
VOICEGATE_OUTBOX_INTERVAL = env_int("VOICEGATE_OUTBOX_INTERVAL", 1, minimum=1)
VOICEGATE_OUTBOX_MAX_ATTEMPTS = env_int("VOICEGATE_OUTBOX_MAX_ATTEMPTS", 10, minimum=1)
VOICEGATE_OUTBOX_RETRY_SECONDS = env_int("VOICEGATE_OUTBOX_RETRY_SECONDS", 1, minimum=1)
CELERY_BEAT_SCHEDULE["voicegate-outbox-drain"] = {
    "task": "voicegate.outbox_drain",
    "schedule": VOICEGATE_OUTBOX_INTERVAL,
    "options": {"expires": VOICEGATE_OUTBOX_INTERVAL * 5},
}
# The call log (Voice → Calls): days a decision is kept, 0 forever; otherwise at
# least 7 (the rule pages read a week of it, the repeated-call window is at most a
# week). Pruned hourly by beat.
VOICEGATE_CALL_LOG_DAYS = env_days("VOICEGATE_CALL_LOG_DAYS", 400, minimum=7)
CELERY_BEAT_SCHEDULE["voicegate-calls-prune"] = {
    "task": "voicegate.calls_prune",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}
# Finished outbox items (delivered or given up; pending ones are never pruned):
# days kept, 0 forever; otherwise at least 7 (Telnyx redelivers an event within
# hours, and the item is what makes a redelivery add nothing). Pruned hourly.
VOICEGATE_OUTBOX_DAYS = env_days("VOICEGATE_OUTBOX_DAYS", 30, minimum=7)
CELERY_BEAT_SCHEDULE["voicegate-outbox-prune"] = {
    "task": "voicegate.outbox_prune",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}
if REDIS_URL:
    # With Redis the gate logs decisions to a stream; beat moves them into the
    # call log every second.
    CELERY_BEAT_SCHEDULE["voicegate-flush-decisions"] = {
        "task": "voicegate.flush_decisions",
        "schedule": 1.0,
        "options": {"expires": 5},
    }
# --- remediation: number reputation remediation ---------------------------------
# The built-in sandbox provider answers under /sandbox/telnyx/v2/ (switch it off in
# production once every organisation forwards to Telnyx).
REMEDIATION_SANDBOX_ENABLED = env_bool("REMEDIATION_SANDBOX_ENABLED", default=True)
# Where workers reach the sandbox: the console's own address (runconsole sets it).
REMEDIATION_SANDBOX_URL = env_str(
    "REMEDIATION_SANDBOX_URL", "http://127.0.0.1:8000/sandbox/telnyx/v2"
)
# Seconds after submission at which a sandbox request leaves pending, finishes
# tier 1 and completes (tier 2).
REMEDIATION_SANDBOX_PENDING_SECONDS = env_int(
    "REMEDIATION_SANDBOX_PENDING_SECONDS", 10, minimum=0
)
REMEDIATION_SANDBOX_TIER1_SECONDS = env_int(
    "REMEDIATION_SANDBOX_TIER1_SECONDS", 30, minimum=0
)
REMEDIATION_SANDBOX_TIER2_SECONDS = env_int(
    "REMEDIATION_SANDBOX_TIER2_SECONDS", 60, minimum=0
)
REMEDIATION_TELNYX_API_BASE = env_str(
    "REMEDIATION_TELNYX_API_BASE", "https://api.telnyx.com/v2"
)
# Upstream HTTP: timeout per request, retries on 5xx/timeouts, first back-off (ms).
REMEDIATION_HTTP_TIMEOUT = env_int("REMEDIATION_HTTP_TIMEOUT", 10, minimum=1)
REMEDIATION_HTTP_RETRIES = env_int("REMEDIATION_HTTP_RETRIES", 2, minimum=0)
REMEDIATION_HTTP_BACKOFF_MS = env_int("REMEDIATION_HTTP_BACKOFF_MS", 500, minimum=0)
# The poller: beat tick, work per tick, per-request back-off, lease, give-up.
REMEDIATION_TICK_SECONDS = env_int("REMEDIATION_TICK_SECONDS", 5, minimum=1)
REMEDIATION_TICK_BATCH = env_int("REMEDIATION_TICK_BATCH", 200, minimum=1)
REMEDIATION_POLL_INITIAL_SECONDS = env_int(
    "REMEDIATION_POLL_INITIAL_SECONDS", 5, minimum=1
)
REMEDIATION_POLL_MAX_SECONDS = env_int("REMEDIATION_POLL_MAX_SECONDS", 600, minimum=1)
REMEDIATION_LEASE_SECONDS = env_int("REMEDIATION_LEASE_SECONDS", 120, minimum=1)
REMEDIATION_MAX_ERRORS = env_int("REMEDIATION_MAX_ERRORS", 30, minimum=1)
# Status webhooks: attempts, first retry delay (doubles), timeout, private targets.
REMEDIATION_WEBHOOK_MAX_ATTEMPTS = env_int(
    "REMEDIATION_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1
)
REMEDIATION_WEBHOOK_RETRY_SECONDS = env_int(
    "REMEDIATION_WEBHOOK_RETRY_SECONDS", 30, minimum=1
)
REMEDIATION_WEBHOOK_TIMEOUT = env_int("REMEDIATION_WEBHOOK_TIMEOUT", 10, minimum=1)
# Development only: let outbound calls (webhooks, downstream forwards, provider API
# bases) reach loopback/private addresses (trustconsole/lib/netguard.py). The old
# name REMEDIATION_WEBHOOK_ALLOW_PRIVATE is read as an alias.
OUTBOUND_ALLOW_PRIVATE = env_bool(
    "OUTBOUND_ALLOW_PRIVATE",
    default=env_bool("REMEDIATION_WEBHOOK_ALLOW_PRIVATE", default=False),
)
REMEDIATION_WEBHOOK_ALLOW_PRIVATE = OUTBOUND_ALLOW_PRIVATE
# Extra CA bundle trusted for webhook TLS (e.g. a local test receiver).
REMEDIATION_WEBHOOK_CA_FILE = env_str("REMEDIATION_WEBHOOK_CA_FILE")
# Celery queue for remediation work ("" = the default queue).
REMEDIATION_QUEUE = env_str("REMEDIATION_QUEUE")
# Number reputation monitoring: the sandbox's approval delay and how often it
# re-checks numbers on its own; the console's beat tick, how long it waits between
# status polls of a pending enterprise, the local hour of scheduled checks, and
# the per-enterprise limit on billable refreshes (calls per window).
REMEDIATION_SANDBOX_APPROVAL_SECONDS = env_int(
    "REMEDIATION_SANDBOX_APPROVAL_SECONDS", 5, minimum=0
)
REMEDIATION_SANDBOX_REPUTATION_SLOT_SECONDS = env_int(
    "REMEDIATION_SANDBOX_REPUTATION_SLOT_SECONDS", 86400, minimum=1
)
REPUTATION_TICK_SECONDS = env_int("REPUTATION_TICK_SECONDS", 30, minimum=1)
REPUTATION_PENDING_POLL_SECONDS = env_int(
    "REPUTATION_PENDING_POLL_SECONDS", 60, minimum=1
)
REPUTATION_CHECK_HOUR = env_int("REPUTATION_CHECK_HOUR", 6, minimum=0)
if REPUTATION_CHECK_HOUR > 23:
    raise ImproperlyConfigured("REPUTATION_CHECK_HOUR must be 0 to 23")
REPUTATION_REFRESH_LIMIT = env_int("REPUTATION_REFRESH_LIMIT", 10, minimum=1)
REPUTATION_REFRESH_WINDOW_SECONDS = env_int(
    "REPUTATION_REFRESH_WINDOW_SECONDS", 3600, minimum=1
)
CELERY_BEAT_SCHEDULE["reputation-tick"] = {
    "task": "remediation.reputation_tick",
    "schedule": REPUTATION_TICK_SECONDS,
    "options": {
        "expires": max(1, REPUTATION_TICK_SECONDS - 1),
        **({"queue": REMEDIATION_QUEUE} if REMEDIATION_QUEUE else {}),
    },
}
# Errors under /v2/ and /sandbox/telnyx/ always in the provider's JSON shape.
MIDDLEWARE.insert(0, "remediation.middleware.ProviderJsonErrorsMiddleware")
CELERY_BEAT_SCHEDULE["remediation-tick"] = {
    "task": "remediation.tick",
    "schedule": REMEDIATION_TICK_SECONDS,
    "options": {
        "expires": max(1, REMEDIATION_TICK_SECONDS - 1),
        **({"queue": REMEDIATION_QUEUE} if REMEDIATION_QUEUE else {}),
    },
}

# --- notifications: email / Slack-compatible webhook when work piles up ----------
NOTIFICATIONS_CHECK_INTERVAL = env_int("NOTIFICATIONS_CHECK_INTERVAL", 60, minimum=5)
# Seconds to wait for the mail server or the webhook per notification.
NOTIFICATIONS_TIMEOUT = env_int("NOTIFICATIONS_TIMEOUT", 10, minimum=1)
# A delivery that failed for a transient reason (mail server down, webhook 5xx) is
# tried again by Celery: at most this many attempts in all, the first retry after
# about NOTIFICATIONS_RETRY_BACKOFF seconds, doubling, at most ..._MAX_DELAY apart.
NOTIFICATIONS_RETRY_ATTEMPTS = env_int("NOTIFICATIONS_RETRY_ATTEMPTS", 5, minimum=1)
NOTIFICATIONS_RETRY_BACKOFF = env_int("NOTIFICATIONS_RETRY_BACKOFF", 30, minimum=1)
NOTIFICATIONS_RETRY_MAX_DELAY = env_int(
    "NOTIFICATIONS_RETRY_MAX_DELAY", 3600, minimum=1
)
CELERY_BEAT_SCHEDULE["notifications-check"] = {
    "task": "notifications.check",
    "schedule": NOTIFICATIONS_CHECK_INTERVAL,
    "options": {"expires": max(NOTIFICATIONS_CHECK_INTERVAL - 2, 3)},
}

# --- Auth, sessions, security ----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "login"

SECURE_COOKIES = env_bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=60)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
# HSTS for subdomains and the browsers' preload list: only once every subdomain
# serves HTTPS (README, "Production: TLS and HSTS").
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False
)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
# Redirect plain HTTP to HTTPS in the app (off: the TLS proxy usually does it).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
# Machine-to-machine paths inside the deployment: health checks, and workers
# reaching the built-in sandbox provider over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$", r"^sandbox/"]
# Every HTML page: scripts, styles, images and connections from this origin only
# (htmx and the pages' JS are static files; no inline script or style).
_CSP_BASE = (
    "default-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
CONTENT_SECURITY_POLICY = f"{_CSP_BASE}; script-src 'self'; style-src 'self'"
# Swagger UI (/api/docs/) styles itself inline; its scripts are still files.
CONTENT_SECURITY_POLICY_PATHS = {
    "/api/docs/": f"{_CSP_BASE}; script-src 'self'; style-src 'self' 'unsafe-inline'"
}
if env_bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Rate limits (trustconsole/lib/ratelimit.py): COUNT/SECONDS, 0/… turns one off.
RATELIMIT_KEY_PREFIX = CACHE_KEY_PREFIX + ":rl"
# Failed log-ins per account and per client IP before a lockout, and its length.
LOGIN_FAILURES_PER_ACCOUNT = env_rate("LOGIN_FAILURES_PER_ACCOUNT", "5/900")
LOGIN_FAILURES_PER_IP = env_rate("LOGIN_FAILURES_PER_IP", "30/900")
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# POST /widget/v1/messages per widget key and per client IP (trusted proxies as the
# widget gate reads them), and /voice/hooks/<token>/ per connection token.
VISITORS_WIDGET_RATE_PER_KEY = env_rate("VISITORS_WIDGET_RATE_PER_KEY", "1200/60")
VISITORS_WIDGET_RATE_PER_IP = env_rate("VISITORS_WIDGET_RATE_PER_IP", "60/60")
VOICEGATE_HOOK_RATE = env_rate("VOICEGATE_HOOK_RATE", "6000/60")

# --- Email ------------------------------------------------------------------------
# One URL, e.g. smtp+tls://user:password@mail.example.com:587; default: stdout.
_email = environ.Env.email_url_config(env_str("EMAIL_URL") or "consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "trustconsole <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- I18N, static -----------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# Region used to read phone numbers written without a leading "+".
PHONE_DEFAULT_REGION = env_str("PHONE_DEFAULT_REGION", "US").upper()
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
# Customer evidence uploads: outside the web root, served only through a view that
# checks the member's organisation.
PRIVATE_MEDIA_ROOT = (
    BASE_DIR / (env_str("PRIVATE_MEDIA_ROOT") or str(DATA_DIR / "private"))
).resolve()
# CSV imports (visitors, voice block list, IP blocks): the largest file accepted,
# and how long one import may run on the worker.
CSV_IMPORT_MAX_BYTES = env_int("CSV_IMPORT_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
CSV_IMPORT_TIME_LIMIT = env_int("CSV_IMPORT_TIME_LIMIT", 3600, minimum=60)
# A dry run (and the file it keeps for "Import now") is deleted this many hours
# after it finished; beat looks every hour.
CSV_DRY_RUN_TTL_HOURS = env_int("CSV_DRY_RUN_TTL_HOURS", 24, minimum=1)
CELERY_BEAT_SCHEDULE["csvio-dry-runs-remove"] = {
    "task": "csvio.dry_runs_remove",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}
ACCOUNTS_EVIDENCE_MAX_BYTES = env_int(
    "ACCOUNTS_EVIDENCE_MAX_BYTES", 10 * 1024 * 1024, minimum=1024
)

# --- REST API ---------------------------------------------------------------------
# Every JSON body (API, widget, webhooks, /v2/) is read by trustconsole.lib.jsonbody.
API_JSON_MAX_BYTES = env_int("API_JSON_MAX_BYTES", 1024 * 1024, minimum=1024)
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32, minimum=2)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "trustconsole.core.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["trustconsole.core.api.permissions.ActorPermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "trustconsole.core.api.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "trustconsole.core.api.schema.ConsoleAutoSchema",
    "EXCEPTION_HANDLER": "trustconsole.core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "trustconsole.lib.jsonbody.JSONBodyParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "trustconsole API",
    "DESCRIPTION": "Visitors, call gate, customer accounts and number reputation.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set shared by several fields or apps.
    "ENUM_NAME_OVERRIDES": {
        "CallerPolicyEnum": "voicegate.choices.CallerPolicy",
        "CallDecisionEnum": "voicegate.choices.Decision",
        "AccountDecisionEnum": "accounts.choices.Decision",
        "AccountStatusEnum": "accounts.choices.AccountStatus",
        "AccountServiceEnum": "accounts.choices.Service",
        "RuleModeEnum": "trustconsole.rules.models.RuleMode",
        "RuleChannelEnum": "trustconsole.rules.facts.RuleChannel",
        "RuleMatchModeEnum": "trustconsole.policy.api.RULE_MATCH_MODES",
        "ReassessmentStatusEnum": "accounts.choices.RequestStatus",
        "RefundStatusEnum": "accounts.choices.RefundStatus",
        "EvidenceKindEnum": "accounts.choices.EvidenceKind",
        "VisitorStatusEnum": "visitors.choices.VisitorStatus",
        "ReviewStatusEnum": "visitors.choices.ReviewStatus",
        "ReviewActionEnum": "visitors.choices.ReviewAction",
        "ConversationStatusEnum": "visitors.choices.ConversationStatus",
        "IdentifierKindEnum": "visitors.choices.IdentifierKind",
        "GateStatusEnum": "remediation.choices.GateStatus",
        "RemediationStatusEnum": "remediation.choices.RemediationStatus",
        "DeliveryStatusEnum": "remediation.choices.DeliveryStatus",
        "RemediationProviderEnum": "remediation.choices.Provider",
        "VoiceProviderEnum": "voicegate.choices.Provider",
        "DncKindEnum": "voicegate.policy.choices.DncKind",
        "DncImportStatusEnum": "voicegate.policy.choices.ImportStatus",
        "DncImportModeEnum": "voicegate.policy.choices.ImportMode",
        "DncStorageEnum": "voicegate.policy.choices.DncStorage",
        "DncProblemModeEnum": "voicegate.policy.choices.DncProblemMode",
        "CsvImportKindEnum": "trustconsole.csvio.models.ImportKind",
        "CsvImportStatusEnum": "trustconsole.csvio.models.ImportStatus",
        "NotificationTriggerEnum": "notifications.choices.Trigger",
        "NotificationOutcomeEnum": "notifications.choices.Outcome",
    },
}

# --- Logging ----------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# "text" (default) or "json": one JSON object a line with time, level, logger,
# message, request id, organisation, user and Celery task (trustconsole/lib/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "text").lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be text or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "trustconsole.lib.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "trustconsole.lib.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
MIDDLEWARE.insert(0, "trustconsole.lib.logs.RequestIdMiddleware")

# --- Metrics (GET /metrics, trustconsole/core/metrics.py) ---------------------------
# Off unless one is set: a bearer token, and/or client networks (CIDR) allowed.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOW_NETWORKS = env_list("METRICS_ALLOW_NETWORKS")
for _network in METRICS_ALLOW_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"METRICS_ALLOW_NETWORKS: {_network!r} is not an IP address or CIDR range"
        ) from _exc
# Every web and worker process counts into files here; /metrics adds them up. It
# must be one directory for all processes of a host (the data dir is).
METRICS_DIR = Path(env_str("METRICS_DIR") or str(DATA_DIR / f"metrics{_TEST_WORKER}"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)

# --- voicegate: outbound call policy check ------------------------------------------
# Uploaded Do-Not-Call files wait here for the worker (web and worker must share it);
# one import may run this long; the check's small in-memory copies (settings, caller
# IDs, consent) are read again after this many seconds even if no version moved.
POLICY_DNC_IMPORT_DIR = Path(
    env_str("POLICY_DNC_IMPORT_DIR") or str(PRIVATE_MEDIA_ROOT / "dnc-imports")
)
POLICY_DNC_IMPORT_TIME_LIMIT = env_int(
    "POLICY_DNC_IMPORT_TIME_LIMIT", 4 * 3600, minimum=60
)
POLICY_COPY_MAX_AGE = env_int("POLICY_COPY_MAX_AGE", 300, minimum=1)
# The decision core (trustconsole.policy): a process more changes behind than this
# rebuilds its organisation's state instead of applying them; the change log keeps
# entries this long (a process idle for half of it rebuilds).
POLICY_MAX_DELTAS = env_int("POLICY_MAX_DELTAS", 5000, minimum=1)
POLICY_CHANGE_RETENTION_SECONDS = env_int(
    "POLICY_CHANGE_RETENTION_SECONDS", 86400, minimum=600
)
# Versioned files of file-backed (national) Do-Not-Call lists, mapped read-only by
# every web and worker process: on one host the data dir; with several hosts a
# volume they all mount.
POLICY_DNC_FILE_DIR = Path(env_str("POLICY_DNC_FILE_DIR") or str(DATA_DIR / "dnc"))
# The registry files behind each national list's current version (its last full
# import and the change lists since), kept to rebuild a missing or damaged list file;
# the worker checks the files this often.
POLICY_DNC_SOURCE_DIR = Path(
    env_str("POLICY_DNC_SOURCE_DIR") or str(DATA_DIR / "dnc-sources")
)
POLICY_DNC_CHECK_INTERVAL = env_int("POLICY_DNC_CHECK_INTERVAL", 60, minimum=5)
CELERY_BEAT_SCHEDULE["policy-dnc-files-check"] = {
    "task": "voicegate.policy.dnc_files_check",
    "schedule": POLICY_DNC_CHECK_INTERVAL,
}
# The outbound check log (every check with the facts the rules saw, replayed by
# outbound-check backtests): allowed checks kept per organisation and hour (refused
# ones are always kept), and days kept (purged hourly by beat).
POLICY_CHECK_LOG_PER_HOUR = env_int("POLICY_CHECK_LOG_PER_HOUR", 10_000, minimum=1)
POLICY_CHECK_LOG_DAYS = env_int("POLICY_CHECK_LOG_DAYS", 30, minimum=1)
CELERY_BEAT_SCHEDULE["policy-checks-prune"] = {
    "task": "voicegate.policy.checks_prune",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}
# Refused outbound calls (the denial log, evidence against an account): days kept,
# 0 forever; otherwise at least 90 (the policy's denial window reaches 90 days).
# Pruned hourly by beat.
POLICY_DENIAL_LOG_DAYS = env_days("POLICY_DENIAL_LOG_DAYS", 400, minimum=90)
CELERY_BEAT_SCHEDULE["policy-denials-prune"] = {
    "task": "voicegate.policy.denials_prune",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}
CELERY_IMPORTS = ["voicegate.policy.tasks"]
