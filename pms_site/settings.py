"""PMS settings: one module, driven by environment variables, with embedded defaults.

With no variables set it runs anywhere Python does: a SQLite file under ``var/``, a
file cache under ``var/cache`` that every local process shares, and django-q2's ORM
broker. Production switches by variables alone:
``DATABASE_URL`` (PostgreSQL), ``REDIS_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS``.
``DEBUG`` is off unless ``DEBUG=1``: the demo's scripts (serve.sh, test.sh) set it.
"""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PMS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


# Off unless asked for: a server started with only its database's address must not serve
# Django's technical pages, /metrics without a token or a development key.
DEBUG = os.environ.get("DEBUG", "").strip() == "1"

SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-development-key-never-use-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "testserver"]
else:
    _HOW = (
        " DEBUG is off (it is on only with DEBUG=1): production sets SECRET_KEY and "
        "ALLOWED_HOSTS (README, Production settings); the demo on this machine runs with "
        "`export DEBUG=1`."
    )
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off." + _HOW)
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off." + _HOW)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers and Prometheus reach the nodes directly over HTTP: no redirect for them.
    SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "pms_site.admin_site.PMSAdminConfig",  # Django's admin, the fund dashboard as its front page
    # Before django.contrib.auth: its `createsuperuser` (validators on every path) is the one.
    "pms_site",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # API tokens, stored hashed, expiring
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ops",  # before django_q: its `qcluster` (a bounded stop) replaces django_q's
    "django_q",
    "portfolio",
    "risk",
    "trading",
    "attribution",
    "briefing",
    "demo",
]

MIDDLEWARE = [
    "ops.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The admin's CSS and scripts (and the API docs'), under gunicorn too: no DEBUG needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost: it sees the views' exceptions first (the database down is a 503 for all).
    "pms_site.errors.ApiErrorsMiddleware",
]

ROOT_URLCONF = "pms_site.urls"
WSGI_APPLICATION = "pms_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # First, so that pms_site's admin/base_site.html is the one the admin extends.
        "DIRS": [BASE_DIR / "pms_site" / "templates"],
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

# --- Database ---------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pms.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (server, qcluster) share the file: wait for locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
else:
    # A database that does not answer fails a connection in seconds, not minutes: /health/
    # answers within 3 s, a web request with a 503 within 5 s (pms_site.database).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("PMS_DB_CONNECT_TIMEOUT", "2"))
    )
# The web processes' bound on one statement (or on a wait for SQLite's write lock).
PMS_WEB_STATEMENT_TIMEOUT_SECONDS = float(os.environ.get("PMS_WEB_STATEMENT_TIMEOUT", "4"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# The version of what the cache holds (pickled payloads and values): raised when their shape
# changes, so that a deploy reads nothing an earlier version stored (2: values beside bytes).
CACHE_VERSION = 2

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("PMS_CACHE_PREFIX", "pms"),
            "VERSION": CACHE_VERSION,
            "OPTIONS": {
                # A down or hung Redis must cost milliseconds, not a request timeout. Errors
                # reach pms_site.cache, whose breaker answers from the database.
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
            },
        }
    }
else:
    # Shared by every local process (the web server, the cluster, commands): a write in one
    # is seen by the next read of the others, as with Redis.
    CACHES = {
        "default": {
            "BACKEND": "pms_site.filecache.SharedFileCache",
            "LOCATION": os.environ.get("PMS_CACHE_DIR", str(VAR_DIR / "cache")),
            "VERSION": CACHE_VERSION,
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

# Seconds each data set stays cached: "book=30,risk=60,morning_pack=300,attribution=300".
# "market": the matrices of market moves the risk reads, until a price or FX rate changes.
PMS_CACHE_TTL_DEFAULTS = {
    "book": 30,
    "risk": 60,
    "morning_pack": 300,
    "attribution": 300,
    "market": 3600,
}
PMS_CACHE_TTLS = PMS_CACHE_TTL_DEFAULTS | {
    name: int(seconds) for name, seconds in (item.split("=") for item in env_list("PMS_CACHE_TTLS"))
}


# An API token expires this many hours after it was issued (`POST /api/auth/token/`).
def env_number(name: str, default: str, low: float, high: float, what: str) -> float:
    """A number from the environment, within [low, high]; else refuse to start, saying
    what to give."""
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name}={text!r}: {what}")
    return value


PMS_TOKEN_TTL_HOURS = env_number(
    "PMS_TOKEN_TTL_HOURS",
    "12",
    1e-6,
    24 * 366,
    "give the hours an API token lasts, more than 0 and at most a year, e.g. 12.",
)
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(hours=PMS_TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Token",  # `Authorization: Token <token>`, as API.md says
}
# How long a process trusts an API token it has looked up, for reads (writes always look
# it up): a revoked token reads for at most this many seconds more in the other processes.
PMS_AUTH_CACHE_SECONDS = env_number(
    "PMS_AUTH_CACHE_SECONDS", "5", 0, 5, "a revoked token must be refused within 5 s: give 0 to 5."
)

# --- django-q2 (ORM broker: the same database, no extra service) ---------------------------
Q_CLUSTER = {
    "name": "pms",
    "orm": "default",
    "workers": int(os.environ.get("PMS_Q_WORKERS", "2")),
    "timeout": 1800,  # a task may run 30 min ...
    "retry": 2100,  # ... and is handed out again only after it surely died
    "max_attempts": 1,
    "catch_up": False,
    "time_zone": "UTC",  # schedules' crons are in UTC
    "save_limit": 1000,
}
# SIGTERM stops the cluster within this many seconds: a task still running then is ended,
# and its pipeline run recorded as interrupted (`manage.py qcluster`, ops').
PMS_CLUSTER_STOP_SECONDS = float(os.environ.get("PMS_CLUSTER_STOP_SECONDS", "20"))

# --- Auth, i18n, static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# After a login the admin opens on the fund dashboard (also when its `next` is refused as
# another site's).
LOGIN_REDIRECT_URL = "admin:index"

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True  # stored in UTC, and the API answers in UTC ...
TIME_ZONE = "America/Sao_Paulo"  # ... pages and the admin show São Paulo time, as BRT
# The admin's date and time formats (pms_site/formats): ISO dates, times labelled BRT.
FORMAT_MODULE_PATH = ["pms_site.formats"]
USE_THOUSAND_SEPARATOR = True  # pages and the admin: 21,428,650.00 (forms' inputs are not)

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT", str(VAR_DIR / "static"))
# WhiteNoise serves the apps' static files where they are (no collectstatic step).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Where `load_demo` keeps the demo users' password (mode 0600) for later starts to print.
PMS_DEMO_PASSWORD_DIR = os.environ.get("PMS_DEMO_PASSWORD_DIR", str(VAR_DIR))

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so that an anonymous request is answered 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pms_site.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.GroupPermission"],
    "DEFAULT_PAGINATION_CLASS": "pms_site.pagination.LimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "pms_site.errors.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["core.filtering.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "pms_site.schema.PMSAutoSchema",
    "EXCEPTION_HANDLER": "pms_site.exceptions.exception_handler",
    # The address of a client: REMOTE_ADDR, or the one this many proxies in front of the
    # nodes put in X-Forwarded-For (a client cannot choose it).
    "NUM_PROXIES": int(os.environ.get("PMS_NUM_PROXIES", "0")),
    # The token endpoint, per address and per username (429 with Retry-After).
    "DEFAULT_THROTTLE_RATES": {
        "login-address": os.environ.get("PMS_LOGIN_RATE_PER_ADDRESS", "30/min"),
        "login-username": os.environ.get("PMS_LOGIN_RATE_PER_USERNAME", "10/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
    # Datetimes are ISO 8601 in UTC with `Z`: the serializers' UTCDateTimeField (the
    # active time zone, São Paulo's, is for pages and the admin).
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PMS API",
    "DESCRIPTION": "Portfolio management system of a global-macro fund.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API is JSON in and out: forms are parsed too, but only JSON is documented.
    "PARSER_WHITELIST": ["pms_site.errors.BoundedJSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pms_site.schema.refuse_unknown_fields",
        "pms_site.schema.rows_not_empty",
        "pms_site.schema.strict_query_parameters",
        "pms_site.schema.declare_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PositionStatusEnum": ["open", "closed"],
        "RiskAlertStatusEnum": "risk.models.RiskAlert.Status",
        "LimitStatusEnum": "risk.selectors.LIMIT_STATUSES",
        "TradeProposalStatusEnum": "trading.models.TradeProposal.Status",
        "PipelineRunStatusEnum": "ops.models.PipelineRun.Status",
    },
}

# --- The fund -----------------------------------------------------------------------------
PMS_BASE_CURRENCY = os.environ.get("PMS_BASE_CURRENCY", "BRL").upper()
# Exchange calendar for business days: a `holidays.financial_holidays` market code.
PMS_CALENDAR = os.environ.get("PMS_CALENDAR", "BVMF")


def _close_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ImproperlyConfigured(
            f"PMS_CLOSE_TIME={text!r}: give the time of the day's close in São Paulo as HH:MM, "
            "e.g. 18:00."
        ) from None


# The day's close is due at this time (São Paulo) on a business day: before it, the
# previous business day's close is the latest due (stale prices are measured against it).
PMS_CLOSE_TIME = _close_time(os.environ.get("PMS_CLOSE_TIME", "18:00"))
# Daily returns in the risk window (the API's default and the risk snapshot's); a young
# fund's shrinks to its history, down to PMS_RISK_MIN_WINDOW, below which there is no VaR.
PMS_RISK_WINDOW = int(os.environ.get("PMS_RISK_WINDOW", "250"))
PMS_RISK_MIN_WINDOW = int(os.environ.get("PMS_RISK_MIN_WINDOW", "20"))
# A trade, close, approval or price row further than this from the last close needs
# `confirm` ("price=0.25,yield=300": 25% for price-quoted instruments, 300 bp for yields).
PMS_PRICE_BAND = {"price": Decimal("0.25"), "yield": Decimal("300")} | {
    kind: Decimal(value) for kind, value in (item.split("=") for item in env_list("PMS_PRICE_BAND"))
}


def _tolerance_bp(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(
            f"PMS_NAV_TOLERANCE_BP={text!r}: give the NAV difference the fund accepts against "
            "the administrator's, in basis points of its NAV, e.g. 1."
        )
    return value


# The fund's NAV and the administrator's may differ by this much (basis points of the
# official NAV) before the day is a break; any difference in units is one.
PMS_NAV_TOLERANCE_BP = _tolerance_bp(os.environ.get("PMS_NAV_TOLERANCE_BP", "1"))

# The morning pack: who receives it, and the instruments of its market overview (default:
# the book's largest exposures).
PMS_MORNING_PACK_RECIPIENTS = env_list("PMS_MORNING_PACK_RECIPIENTS")
PMS_MORNING_PACK_INSTRUMENTS = env_list("PMS_MORNING_PACK_INSTRUMENTS")

# The pipelines: a failed step is tried again this many times, this many seconds apart;
# schedules (crons in UTC, weekdays; a holiday run records itself as skipped).
PMS_PIPELINE_RETRIES = int(os.environ.get("PMS_PIPELINE_RETRIES", "2"))
PMS_PIPELINE_RETRY_SECONDS = float(os.environ.get("PMS_PIPELINE_RETRY_SECONDS", "30"))
# A pipeline not succeeded this long after its slot is late (metrics, verify_system).
PMS_PIPELINE_LATE_MINUTES = int(os.environ.get("PMS_PIPELINE_LATE_MINUTES", "60"))
PMS_SCHEDULES = {
    "eod": os.environ.get("PMS_EOD_CRON", "0 21 * * 1-5"),  # 18:00 in São Paulo
    "preopen": os.environ.get("PMS_PREOPEN_CRON", "30 9 * * 1-5"),  # 06:30 in São Paulo
}

# Each cluster heartbeats six times within this age. No cluster's heartbeat younger than
# this: /health/ reports the scheduler down; a run whose cluster's heartbeat is older is
# taken for interrupted and its date queued again, by the next pass of any live cluster.
PMS_HEARTBEAT_MAX_AGE_SECONDS = int(os.environ.get("PMS_HEARTBEAT_MAX_AGE_SECONDS", "180"))
# A date interrupted (its cluster or worker died) this many times in a row fails, with its
# alert, instead of being queued again.
PMS_PIPELINE_RECOVERIES = int(os.environ.get("PMS_PIPELINE_RECOVERIES", "2"))

# /metrics asks for `Authorization: Bearer <this>` when it is set. With DEBUG off it is
# required: without it /metrics is off (404), and `check --deploy` warns.
PMS_METRICS_TOKEN = os.environ.get("PMS_METRICS_TOKEN", "")

# Backups: where `manage.py backup` writes, and the age past which verify_system fails.
PMS_BACKUP_DIR = Path(os.environ.get("PMS_BACKUP_DIR", VAR_DIR / "backups"))
PMS_BACKUP_MAX_AGE_HOURS = float(os.environ.get("PMS_BACKUP_MAX_AGE_HOURS", "26"))

# --- Email (the console by default: a message is printed, not sent) -----------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "pms@localhost")
# Where django.core.mail.backends.filebased.EmailBackend writes each message (.log files,
# the email as sent: open one to see the pack as a mail client receives it).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
