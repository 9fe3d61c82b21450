"""Photopipe settings: every value comes from the environment, with embedded defaults.

With no variables set Photopipe runs embedded: SQLite and local files under ``var/`` and an
in-process Dramatiq broker. ``DATABASE_URL``, ``RABBITMQ_URL`` and ``AWS_STORAGE_BUCKET_NAME``
switch to PostgreSQL, RabbitMQ and S3 (``.env.example`` lists every variable).
"""

import os
from pathlib import Path

import environ
from botocore.config import Config

from photopipe.broker import dramatiq_broker_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="photopipe-embedded-insecure-key")
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_dramatiq",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "jobs.apps.JobsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

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
    )
    default_storage_backend = {"BACKEND": "storages.backends.s3.S3Storage"}
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
DRAMATIQ_BROKER = dramatiq_broker_settings(RABBITMQ_URL, RABBITMQ_BLOCKED_TIMEOUT_S)
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "jobs.api.pagination.JobPagination",
    "PAGE_SIZE": env.int("PHOTOPIPE_PAGE_SIZE", default=20),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "jobs.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Photopipe API",
    "DESCRIPTION": "Asynchronous photo processing: upload, poll, download.",
    "VERSION": "1.0.0",
}

# Photopipe's own knobs.
PHOTOPIPE = {
    "MAX_UPLOAD_BYTES": env.int("PHOTOPIPE_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024),
    "MAX_PIXELS": env.int("PHOTOPIPE_MAX_PIXELS", default=50_000_000),
    "MAX_FRAMES": env.int("PHOTOPIPE_MAX_FRAMES", default=1000),
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
    "WEBHOOK_SECRET": env("PHOTOPIPE_WEBHOOK_SECRET", default=SECRET_KEY),
    "EMBEDDED_WORKER_THREADS": env.int("PHOTOPIPE_EMBEDDED_WORKER_THREADS", default=2),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"pika": {"level": "WARNING"}},
}
