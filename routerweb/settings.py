"""routerweb settings.

Defaults run the embedded single-machine setup: SQLite, Celery tasks executed in-process,
a local-memory cache, and generated secrets. `DATABASE_URL` switches to PostgreSQL and
`REDIS_URL` to Redis (Celery broker + Django cache); with `DEBUG` off the secrets must come
from the environment (or `*_FILE` Docker secrets).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from routerweb import local_secrets
from routerweb.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_time_zone,
    system_time_zone,
)

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(env_str("ROUTERWEB_LOCAL_DIR", str(BASE_DIR / ".local")))

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_secret("SECRET_KEY")
FIELD_ENCRYPTION_KEY = env_secret("FIELD_ENCRYPTION_KEY")
if not (SECRET_KEY and FIELD_ENCRYPTION_KEY):
    if not DEBUG:
        raise ImproperlyConfigured(
            "With DEBUG off, SECRET_KEY and FIELD_ENCRYPTION_KEY must be set in the environment "
            "(or SECRET_KEY_FILE / FIELD_ENCRYPTION_KEY_FILE). Generate an encryption key with: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    _generated = local_secrets.load_or_create(LOCAL_DIR / "secrets.json")
    SECRET_KEY = SECRET_KEY or _generated["SECRET_KEY"]
    FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEY or _generated["FIELD_ENCRYPTION_KEY"]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "accounts.apps.RouterwebAdminConfig",  # django.contrib.admin, access by role
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "accounts",
    "audit",
    "providers",
    "governance",
    "routers",
    "decisions",
    "planning",
    "preferences",
    "experiments",
    "chat",
    "gateway",
    "controls",
    "evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "routerweb.input_guard.refuse_nul",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "routerweb.errors.friendly_404",
]

ROOT_URLCONF = "routerweb.urls"
ASGI_APPLICATION = "routerweb.asgi.application"
WSGI_APPLICATION = None

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
                "django.template.context_processors.csp",
            ],
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # WAL + a busy timeout let the streaming view write while another request reads.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env_str("REDIS_URL")
# Every Redis call gives up after this long; after one that does, Redis counts as down for
# CACHE_DOWN_SECONDS and each use of it falls back at once (routerweb/cache_health.py).
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 0.5)
CACHE_DOWN_SECONDS = env_float("CACHE_DOWN_SECONDS", 10.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "routerweb.cache.FailFastRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "routerweb.cache.LocalCache",
            "LOCATION": "routerweb",
        }
    }

# Celery: with no broker configured, tasks run in-process (embedded default).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Routing decisions wait on a bounded in-process queue for the publishing thread; a full queue
# writes straight to the database. A broker that fails or times out is skipped (records are
# written directly) for DECISION_BROKER_PAUSE seconds. See decisions/publisher.py.
DECISION_QUEUE_SIZE = env_int("DECISION_QUEUE_SIZE", 1000, minimum=1)
DECISION_BROKER_PAUSE = env_float("DECISION_BROKER_PAUSE", 30.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# The instance's time zone: dates and times on pages, and the zone new routers start with (their
# time conditions and analytics days follow the router's own zone).
# Unset, it is the machine's own zone (on a laptop, the user's; in a container, usually UTC).
TIME_ZONE = env_time_zone("TIME_ZONE", system_time_zone())
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Limits on what users send (clear errors, nothing stored).
MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 100_000, minimum=1)
MAX_IMAGE_BYTES = env_int("MAX_IMAGE_BYTES", 5 * 1024 * 1024, minimum=1)
# Per message: how many images, their bytes together, and each one's width × height (read
# from the header before decoding, so a small file declaring 20000×20000 is refused).
MAX_IMAGES_PER_MESSAGE = env_int("MAX_IMAGES_PER_MESSAGE", 8, minimum=1)
MAX_IMAGES_TOTAL_BYTES = env_int("MAX_IMAGES_TOTAL_BYTES", 20 * 1024 * 1024, minimum=1)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 50_000_000, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_IMAGE_BYTES + 1024 * 1024

# Content Security Policy: only our own scripts and styles, nothing inline.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits the whole domain (and its subdomains) to HTTPS in browsers for
        # good; a self-hosted instance usually lives on someone else's subdomain, so it is an
        # opt-in for the domain's owner rather than our default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token travels in hx-headers.
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "django.db.backends": {"level": "INFO"}},
}

# In development WhiteNoise serves straight from static/ (uvicorn has no static server).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# The classifier call that judges LLM-classified rules: strict timeout, cached verdicts.
CLASSIFIER_TIMEOUT = env_float("CLASSIFIER_TIMEOUT", 8.0)
# Semantic rules (providers/embeddings.py, providers/local_embeddings.py).
EMBEDDING_TIMEOUT = env_float("EMBEDDING_TIMEOUT", 5.0)
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 64)
# A folder holding a model2vec model (config.json, tokenizer.json, model.safetensors) for
# offline installs; when unset the local model is fetched once into EMBEDDING_CACHE_DIR.
EMBEDDING_MODEL_PATH = env_str("EMBEDDING_MODEL_PATH", "")
EMBEDDING_CACHE_DIR = env_str("EMBEDDING_CACHE_DIR", str(BASE_DIR / ".local" / "embeddings"))
# How long a failed fetch of the local model is remembered before it is tried again.
EMBEDDING_FETCH_RETRY_SECONDS = env_float("EMBEDDING_FETCH_RETRY_SECONDS", 600.0)
# Limits per person / API token (0 = off): requests per minute, answers streaming at once.
RATE_LIMIT_USER_RPM = env_int("RATE_LIMIT_USER_RPM", 0, minimum=0)
RATE_LIMIT_TOKEN_RPM = env_int("RATE_LIMIT_TOKEN_RPM", 0, minimum=0)
MAX_CONCURRENT_STREAMS_PER_USER = env_int("MAX_CONCURRENT_STREAMS_PER_USER", 0, minimum=0)
# Output tokens a budget reserves for an answer whose request sets no max_tokens.
BUDGET_OUTPUT_ESTIMATE = env_int("BUDGET_OUTPUT_ESTIMATE", 1000, minimum=1)
CLASSIFIER_CACHE_SECONDS = env_int("CLASSIFIER_CACHE_SECONDS", 3600, minimum=0)
# A golden-set run on the pages or the API starts no case after this many seconds (the rest are
# reported as not run); `manage.py router_test` has no limit unless given --time-limit.
GOLDEN_RUN_SECONDS = env_float("GOLDEN_RUN_SECONDS", 60.0)

# The /v1 gateway keeps each user's prepared routers and catalog in process memory until the
# routing configuration changes (see planning/planner.py); this caps how long a copy is
# trusted when a change bypassed the application (an edit straight in the database).
PLAN_CACHE_SECONDS = env_float("PLAN_CACHE_SECONDS", 60.0)

# Prometheus `/metrics` (routerweb/observability.py): readable with `Authorization: Bearer
# <METRICS_TOKEN>` when a token is set, or from the networks listed (CIDR, comma-separated;
# loopback by default). Behind a load balancer REMOTE_ADDR is the balancer's: use the token.
METRICS_TOKEN = env_secret("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not an IP address or network "
            "(e.g. 10.0.0.0/8)."
        ) from None

# Publishing a task must fail fast when the broker is down (we then write directly).
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 0,
}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# E-mail (optional): when EMAIL_HOST is set, new users get their set-password link by mail.
ROUTERWEB_EMAIL_HOST = env_str("EMAIL_HOST")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": ROUTERWEB_EMAIL_HOST or "localhost",
            "port": env_int("EMAIL_PORT", 587),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_secret("EMAIL_HOST_PASSWORD") or "",
            "use_tls": env_bool("EMAIL_USE_TLS", True),
            "timeout": 10,
        },
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "routerweb@localhost")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=60)

# Login throttling: this many failures per username or per address lock it out for the window.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60, minimum=1)

# --- Failure policy (providers/failover.py) and circuit breaker (providers/breaker.py) ----------------
# Attempts per model (the first try included) for retryable errors: 429, 5xx, connection reset.
FAILOVER_MAX_ATTEMPTS_PER_MODEL = env_int("FAILOVER_MAX_ATTEMPTS_PER_MODEL", 2, minimum=1)
# Backoff between tries on one model: base × 2^(n-1), capped, with jitter (never below half).
FAILOVER_BACKOFF_BASE = env_float("FAILOVER_BACKOFF_BASE", 0.2)
FAILOVER_BACKOFF_MAX = env_float("FAILOVER_BACKOFF_MAX", 2.0)
# A Retry-After up to this many seconds is waited out; a longer one fails over at once.
FAILOVER_MAX_RETRY_AFTER = env_float("FAILOVER_MAX_RETRY_AFTER", 5.0)
# Upper bounds on top of each provider's own connect/read timeouts. A timed-out model is not
# retried: the chain moves on (a clean restart when nothing was shown, else a verified
# continuation or an answer marked cut off). A router may override these for its models.
FAILOVER_CONNECT_TIMEOUT = env_float("FAILOVER_CONNECT_TIMEOUT", 10.0)
FAILOVER_FIRST_TOKEN_TIMEOUT = env_float("FAILOVER_FIRST_TOKEN_TIMEOUT", 15.0)
FAILOVER_STALL_TIMEOUT = env_float("FAILOVER_STALL_TIMEOUT", 20.0)
# A model with this many retryable failures within the window is skipped for the cool-off,
# then probed with one request. State lives in the shared cache, so every process agrees.
BREAKER_FAILURE_THRESHOLD = env_int("BREAKER_FAILURE_THRESHOLD", 3, minimum=1)
BREAKER_WINDOW_SECONDS = env_float("BREAKER_WINDOW_SECONDS", 60.0)
BREAKER_COOLOFF_SECONDS = env_float("BREAKER_COOLOFF_SECONDS", 30.0)
