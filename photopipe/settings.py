"""Photopipe settings: every value comes from the environment, with embedded defaults.

With no variables set Photopipe runs embedded: SQLite and local files under ``var/`` and an
in-process Dramatiq broker. ``DATABASE_URL``, ``RABBITMQ_URL`` and ``AWS_STORAGE_BUCKET_NAME``
switch to PostgreSQL, RabbitMQ and S3 (``.env.example`` lists every variable).
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from botocore.config import Config

from jobs.api import schema_components
from photopipe.broker import dramatiq_broker_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# Only for embedded mode on one's own machine; the photopipe.W001 check warns elsewhere.
EMBEDDED_SECRET_KEY = "photopipe-embedded-insecure-key"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=EMBEDDED_SECRET_KEY)
# Off unless asked for: debug pages show tracebacks, settings and URL patterns. `make run`
# turns it on for local use.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. Compose serves plain HTTP behind a TLS-terminating proxy: set
# DJANGO_SECURE_PROXY_SSL_HEADER=1 there (the proxy must set X-Forwarded-Proto itself) and the
# proxy owns the http -> https redirect. Served directly over TLS, set
# DJANGO_SECURE_SSL_REDIRECT=1 instead. Cookies are Secure and HSTS is sent unless DEBUG.
BEHIND_TLS_PROXY = env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
if BEHIND_TLS_PROXY and not SECURE_SSL_REDIRECT:
    # The proxy in front redirects to HTTPS (declared by DJANGO_SECURE_PROXY_SSL_HEADER);
    # without that declaration `check --deploy` still warns about the missing redirect.
    SILENCED_SYSTEM_CHECKS = ["security.W008"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_dramatiq",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc assets, served locally (no CDN)
    "django_prometheus",
    "jobs.apps.JobsConfig",
]

MIDDLEWARE = [
    # First (and the After one near the end): request counts and latencies for /metrics.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Just before axes so responses are counted.
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]
# /metrics answers without touching the database at start-up.
PROMETHEUS_EXPORT_MIGRATIONS = False

ROOT_URLCONF = "photopipe.urls"
WSGI_APPLICATION = "photopipe.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
# Workers hold connections across messages; DbConnectionsMiddleware closes stale ones.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Embedded mode: worker threads and the web server share one SQLite file; WAL plus a busy
    # timeout lets them interleave instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses logins (admin, browsable API) from a locked-out client before any
    # password is checked. DRF's token and session authentication never call authenticate(),
    # so API clients are throttled by DRF instead (REST_FRAMEWORK below).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Admin and browsable-API login: after AXES_FAILURE_LIMIT wrong passwords from one address, or
# for one user name from anywhere, logins are refused (429) for the cool-off, right password
# included. `manage.py axes_reset` lifts a lockout by hand.
AXES_FAILURE_LIMIT = env.int("PHOTOPIPE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("PHOTOPIPE_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# The same client address as the API throttles use (PHOTOPIPE_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "jobs.api.throttles.client_ip"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The dashboard's own and vendored files (htmx, uPlot: static/vendor/README.md).
STATICFILES_DIRS = [BASE_DIR / "static"]
# Embedded mode serves static files without a collectstatic step (the image runs it).
WHITENOISE_USE_FINDERS = env.bool("PHOTOPIPE_STATIC_FROM_FINDERS", default=True)

# Storage: local files under var/media unless an S3 bucket is configured (MinIO in compose,
# moto's S3 server in tests).
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
    AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="us-east-1")
    AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default=None)
    AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default=None)
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = True  # stage outputs have deterministic keys: rewriting is harmless
    # A storage that stops answering must fail a call well inside a stage's time limit, so
    # Dramatiq retries it, instead of hanging on botocore's 60 s timeouts.
    # This Config replaces django-storages' own, so it also carries the addressing style
    # (MinIO and moto serve path-style URLs) that AWS_S3_ADDRESSING_STYLE would have set.
    AWS_S3_CLIENT_CONFIG = Config(
        s3={"addressing_style": "path"}, signature_version="s3v4",
        connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
        # botocore >= 1.36 adds a CRC32 to every PUT and checks one on every GET by default;
        # a stage moves 2-3 objects of a few MB, and the two passes over each cost CPU in every
        # worker and the API (docs/PERFORMANCE.md, "Cuts, second round"). Integrity stays: over
        # plain HTTP the SigV4 signature covers the body's SHA-256, over HTTPS TLS does.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # One client serves every thread of a process (jobs/s3_storage.py): room for more
        # threads than botocore's default 10 before connections are dropped after use.
        max_pool_connections=32,
    )
    # django-storages' S3Storage with one boto3 client per process, not one per thread: a new
    # session parses botocore's S3 models again, 110-260 ms of CPU on every thread's first call.
    default_storage_backend = {"BACKEND": "jobs.s3_storage.S3Storage"}
else:
    default_storage_backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "allow_overwrite": True},
    }
STORAGES = {
    "default": default_storage_backend,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Dramatiq: RabbitMQ when RABBITMQ_URL is set, otherwise an in-process StubBroker that
# `manage.py run_embedded` drains with worker threads.
RABBITMQ_URL = env("RABBITMQ_URL", default="")
# Prefetch = worker threads (2 in `make worker` and compose): every message a worker holds is
# being processed, so no image waits in one replica's buffer while another replica is idle
# (Dramatiq's default, 2x threads, would park one message per thread). Raise it with --threads.
PHOTOPIPE_PREFETCH = env.int("PHOTOPIPE_PREFETCH", default=2)
# dramatiq.worker reads its prefetch from the environment at import time; rundramatiq passes
# our environment on to the worker processes it spawns.
os.environ.setdefault("dramatiq_queue_prefetch", str(PHOTOPIPE_PREFETCH))
# Seconds a publish may wait while RabbitMQ blocks publishers (disk or memory alarm) before
# it fails; Dramatiq tries up to 6 connections, so an upload answers within about 6x this.
RABBITMQ_BLOCKED_TIMEOUT_S = env.float("PHOTOPIPE_BROKER_BLOCKED_TIMEOUT_S", default=1.0)
# 1 in worker processes: Dramatiq's Prometheus middleware serves every worker process's
# metrics on port $dramatiq_prom_port (docs/OPERATIONS.md, "Metrics").
WORKER_METRICS = env.bool("PHOTOPIPE_WORKER_METRICS", default=False)
DRAMATIQ_BROKER = dramatiq_broker_settings(
    RABBITMQ_URL, RABBITMQ_BLOCKED_TIMEOUT_S, worker_metrics=WORKER_METRICS
)
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

# Who may call the API anonymously: "off" (nobody) or "by-id" (upload, then read and download
# a job by its id; never list, reprocess, cancel or delete). jobs.checks refuses other values.
PHOTOPIPE_ANONYMOUS = env("PHOTOPIPE_ANONYMOUS", default="off")


def _rate(name: str, default: str) -> str | None:
    """A DRF rate ("120/min"); "off" or empty switches that throttle off."""
    value = env(name, default=default).strip()
    return None if value.lower() in ("", "off", "0") else value


REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an anonymous refusal a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["jobs.api.permissions.UserOrAnonymousById"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "jobs.api.throttles.UploadRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": _rate("PHOTOPIPE_THROTTLE_USER", "120/min"),
        "anon": _rate("PHOTOPIPE_THROTTLE_ANON", "60/min"),
        "upload": _rate("PHOTOPIPE_THROTTLE_UPLOAD", "30/min"),
    },
    # Proxies in front that append to X-Forwarded-For. 0: the client is REMOTE_ADDR, so a
    # forged X-Forwarded-For cannot dodge the per-address throttle (DRF's default trusts it).
    "NUM_PROXIES": env.int("PHOTOPIPE_PROXY_COUNT", default=0),
    "DEFAULT_PAGINATION_CLASS": "jobs.api.pagination.JobPagination",
    "PAGE_SIZE": env.int("PHOTOPIPE_PAGE_SIZE", default=20),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "jobs.api.schema.PhotopipeAutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "jobs.api.parsers.BoundedJSONParser",
        "jobs.api.parsers.CheckedMultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "jobs.api.errors.exception_handler",
}


SPECTACULAR_SETTINGS = {
    "TITLE": "Photopipe API",
    "DESCRIPTION": (
        "Asynchronous photo processing: upload, poll, download. Send `Authorization: Token "
        "<key>`. Every error is JSON: `{\"detail\": ..., \"code\": ...}`, or a map from each bad "
        "field or query parameter to its messages (400). Any route may answer 500 "
        "(`{\"detail\": \"Server error.\", \"code\": \"server_error\"}`) on an unexpected fault."
    ),
    "VERSION": "1.0.0",
    # The schema is served like the rest of the API, not to anyone (drf-spectacular's default).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Multipart uploads show as a file field, not one request body per parser.
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": schema_components.COMPONENTS,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
}

# The cache holds the API throttles' counters, so every API process must see the same one:
# PostgreSQL's database cache (table created after migrate, jobs.apps) when the jobs live in
# PostgreSQL, local memory for the single embedded process; PHOTOPIPE_CACHE_URL overrides
# (e.g. redis://...).
if env("PHOTOPIPE_CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("PHOTOPIPE_CACHE_URL")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "photopipe_cache",
    }}

# Photopipe's own knobs.
PHOTOPIPE = {
    "MAX_UPLOAD_BYTES": env.int("PHOTOPIPE_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024),
    "MAX_PIXELS": env.int("PHOTOPIPE_MAX_PIXELS", default=50_000_000),
    "MAX_FRAMES": env.int("PHOTOPIPE_MAX_FRAMES", default=1000),
    # CPU budget of one job's filter steps, estimated from the plan before anything runs
    # (processing.check_plan): milliseconds of one core. Refused at upload when over it.
    "MAX_WORK_MS": env.int("PHOTOPIPE_MAX_WORK_MS", default=20_000),
    # 1: keep damaged images (a cut JPEG, data that does not fill its frame) with grey filler
    # instead of failing them.
    "ACCEPT_DAMAGED": env.bool("PHOTOPIPE_ACCEPT_DAMAGED", default=False),
    "WATERMARK_TEXT": env("PHOTOPIPE_WATERMARK_TEXT", default="© Photopipe"),
    "OUTPUT_QUALITY": env.int("PHOTOPIPE_OUTPUT_QUALITY", default=85),
    # Dramatiq-level retries for transient errors (storage, database, network).
    "STAGE_MAX_RETRIES": env.int("PHOTOPIPE_STAGE_MAX_RETRIES", default=5),
    "RETRY_MIN_BACKOFF_MS": env.int("PHOTOPIPE_RETRY_MIN_BACKOFF_MS", default=1000),
    "RETRY_MAX_BACKOFF_MS": env.int("PHOTOPIPE_RETRY_MAX_BACKOFF_MS", default=60_000),
    # Attempts counted in the database: also catches messages that kill their worker.
    "STAGE_MAX_ATTEMPTS": env.int("PHOTOPIPE_STAGE_MAX_ATTEMPTS", default=6),
    "STAGE_TIME_LIMIT_MS": env.int("PHOTOPIPE_STAGE_TIME_LIMIT_MS", default=120_000),
    "REAPER_TIMEOUT_S": env.int("PHOTOPIPE_REAPER_TIMEOUT_S", default=600),
    # A stage hands the image the next stage reads over inside its message when it is at
    # most this many bytes (a 1024 px intermediate is ~0.2-0.4 MB), saving a storage read per
    # stage; 0 = always read from storage (jobs/handoff.py).
    "HANDOFF_MAX_BYTES": env.int("PHOTOPIPE_HANDOFF_MAX_BYTES", default=1024 * 1024),
    # Webhooks go to public addresses only, except hosts and networks listed here
    # (comma-separated, e.g. "hooks.internal,10.20.0.0/16"); each user signs with their own
    # secret (GET /api/v1/account/webhook-secret/).
    "WEBHOOK_ALLOW": env.list("PHOTOPIPE_WEBHOOK_ALLOW", default=[]),
    # One delivery (resolve, connect, send, answer) gets this long in all, seconds.
    "WEBHOOK_DEADLINE_S": env.float("PHOTOPIPE_WEBHOOK_DEADLINE_S", default=10.0),
    "EMBEDDED_WORKER_THREADS": env.int("PHOTOPIPE_EMBEDDED_WORKER_THREADS", default=2),
    # Embedded mode: how often the server picks up jobs another process (reprocess,
    # resume_jobs) queued in the shared database, seconds (jobs/embedded.py).
    "EMBEDDED_SWEEP_S": env.float("PHOTOPIPE_EMBEDDED_SWEEP_S", default=2.0),
    # Finished jobs older than this many days are deleted by the reaper (0 = keep forever).
    "RETENTION_DAYS": env.int("PHOTOPIPE_RETENTION_DAYS", default=0),
    # Lifetime of the signed download links in a job's `links` (S3 presigned or local).
    "DOWNLOAD_URL_TTL_S": env.int("PHOTOPIPE_DOWNLOAD_URL_TTL_S", default=300),
    # The S3 endpoint as clients reach it, when it differs from the one the app uses
    # (compose: the app talks to http://minio:9000, a browser to http://localhost:9000).
    # Presigned URLs are signed for this host: rewriting the host afterwards breaks them.
    "S3_PUBLIC_ENDPOINT_URL": env(
        "PHOTOPIPE_S3_PUBLIC_ENDPOINT_URL", default=env("AWS_S3_ENDPOINT_URL", default="")
    ),
    # Per-user quotas (0 = unlimited; staff are exempt): jobs created in the last 24 hours,
    # and bytes of originals stored.
    "QUOTA_JOBS_PER_DAY": env.int("PHOTOPIPE_QUOTA_JOBS_PER_DAY", default=1000),
    "QUOTA_BYTES": env.int("PHOTOPIPE_QUOTA_BYTES", default=5 * 1024**3),
    # An upload of the same bytes with the same options as a completed job of the same user
    # reuses its result instead of running the stages again (jobs/dedupe.py).
    "DEDUPE": env.bool("PHOTOPIPE_DEDUPE", default=True),
    # How long an Idempotency-Key's answer is kept for retries, hours (jobs/idempotency.py).
    "IDEMPOTENCY_TTL_H": env.int("PHOTOPIPE_IDEMPOTENCY_TTL_H", default=24),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # axes.apps announces itself in every process at start; its lockout logs (axes.*) stay.
    "loggers": {"pika": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}
