"""RigRank settings, read from the environment.

Every variable is listed with its default in README.md. Without ``DATABASE_URL`` the
project uses a SQLite file; without ``REDIS_URL`` Celery runs tasks eagerly in-process,
so ``make run`` needs no other service.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from import_export.formats.base_formats import JSON

from rigrank import __version__
from rigrank.csvsafe import SafeCSV, SafeTSV

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# SECRET_KEY from the environment, else the file `make setup` writes (.secret_key), so
# that `./rigrank <command>` works in a new shell. A development key only with DEBUG on.
SECRET_KEY = env.str("SECRET_KEY", default="")
SECRET_KEY_FILE = Path(env.str("SECRET_KEY_FILE", default=str(BASE_DIR / ".secret_key")))
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (make setup writes one to .secret_key)."
        )
    SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "import_export",
    "axes",
    "ops.apps.OpsConfig",
    "catalog",
    "pricing",
    "configurator",
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
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "rigrank.errors.ErrorsMiddleware",
    # Last, as django-axes asks: throttles admin sign-in per account and per address.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "rigrank.urls"
WSGI_APPLICATION = "rigrank.wsgi.application"

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

# Database: DATABASE_URL (postgres://user:password@host:port/name), else a SQLite file.
# Percent-encode special characters in passwords ('#' becomes %23).
SQLITE_PATH = env.path("SQLITE_PATH", default=BASE_DIR / "db.sqlite3")
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so that worker processes started by tests see the test rows.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: Celery broker, result backend and cache when set.
REDIS_URL = env.str("REDIS_URL", default="")
# Entries an in-process cache keeps (without Redis, and while Redis is down). Current
# prices take one entry per part, a results page about 100 kB: 2,000 holds a catalogue
# of that many parts' prices, or about 200 MB of pages at most (LocMemCache's own
# default, 300, was culled by every snapshot read of a larger catalogue).
LOCAL_CACHE_ENTRIES = env.int("LOCAL_CACHE_ENTRIES", default=2_000)
# Allocations between young-generation garbage collections (CPython's default is 700).
# A build search allocates hundreds of thousands of short-lived objects; at 700 it ran
# about a hundred young collections, promoted request-scoped objects and so set off
# full collections of the whole heap (the catalogue snapshot and the search memos):
# 60-140 ms on a first search of a large catalogue. Applied when the apps load.
GC_YOUNG_THRESHOLD = env.int("GC_YOUNG_THRESHOLD", default=10_000)

if REDIS_URL:
    CACHES = {
        "default": {
            # Falls back to an in-process cache while Redis is unreachable (rigrank/cache.py).
            "BACKEND": "rigrank.cache.FallbackRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rigrank",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": LOCAL_CACHE_ENTRIES},
        }
    }

# Celery. Reliability defaults: a task is acknowledged only after it finishes, and one
# whose worker process dies is put back on the queue, so no task is lost with a worker.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_TASK_TRACK_STARTED = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request sending a task to a broker that is down gives up within seconds (and
# says so) instead of retrying for as long as the broker stays away.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
# An unacknowledged task comes back to the queue after this many seconds when its
# worker vanished; it must exceed every countdown/ETA we use or tasks would run twice.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # How often a worker sweeps for tasks abandoned by dead workers: every
    # interval x throttle seconds (kombu's defaults, 10 x 10).
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Admin CSV/TSV import and export (django-import-export) escape spreadsheet formulas.
IMPORT_EXPORT_FORMATS = [SafeCSV, SafeTSV, JSON]

# Password validation
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

# HTTPS: set when the site is served over TLS (directly or behind a proxy that sets
# X-Forwarded-Proto). Off for the local `make run` on http://127.0.0.1:8000.
HTTPS = env.bool("HTTPS", default=False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    # HSTS preload is an opt-in decision for the operator, not a deploy-check failure.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts only from our own static files, never
# inline (chart data travels in <script type="application/json">, which is not run).
# Style attributes stay allowed (templates and Chart.js set sizes inline); <style>
# elements do not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-elem": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Structured logging: one JSON object per line on stdout.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Application settings.
DISPLAY_CURRENCY = env.str("DISPLAY_CURRENCY", default="USD").upper()
# Pricing (pricing/conf.py lists the other knobs): a price older than this is flagged
# stale; a new price this far from its offer's recent median is held as suspect.
PRICE_STALE_DAYS = env.int("PRICE_STALE_DAYS", default=30)
PRICE_OUTLIER_FRACTION = env.float("PRICE_OUTLIER_FRACTION", default=0.5)
PRICE_REFRESH_HOURS = env.int("PRICE_REFRESH_HOURS", default=24)
# Outbound fetches (scraper, selector tester, Hugging Face) reach public addresses only,
# unless this is set (tests and local fixtures serve pages on 127.0.0.1) or the address
# is in PRICE_FETCH_ALLOWED_NETWORKS (comma-separated CIDRs, e.g. an internal mirror).
PRICE_FETCH_ALLOW_PRIVATE = env.bool("PRICE_FETCH_ALLOW_PRIVATE", default=False)
PRICE_FETCH_ALLOWED_NETWORKS = env.list("PRICE_FETCH_ALLOWED_NETWORKS", default=[])
RIGRANK_VERSION = __version__

# Abuse controls. Anonymous share links and API calls per client address (0: no limit);
# TRUSTED_PROXY_HOPS: how many proxies in front append to X-Forwarded-For (0: none, use
# the connection's address). Shared snapshots nobody opened for SHARE_RETENTION_DAYS
# are removed by the daily "Prune shared builds" task (manage.py prune_shared_builds).
SHARE_RATE_PER_HOUR = env.int("SHARE_RATE_PER_HOUR", default=30)
API_RATE_PER_MINUTE = env.int("API_RATE_PER_MINUTE", default=120)
MEASURE_RATE_PER_HOUR = env.int("MEASURE_RATE_PER_HOUR", default=20)
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
# The API reads query strings up to this many characters (414 beyond).
MAX_QUERY_CHARS = env.int("MAX_QUERY_CHARS", default=4096)
SHARE_RETENTION_DAYS = env.int("SHARE_RETENTION_DAYS", default=180)
# Admin sign-in (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one account,
# or from one address, further tries are refused (429) for LOGIN_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# A valid IP or None: axes stores it in an IP column (PostgreSQL refuses other text).
AXES_CLIENT_IP_CALLABLE = "rigrank.ratelimit.ip_address"

# A failed CSRF check (an old tab, cookies blocked) gets a page that says what to do.
CSRF_FAILURE_VIEW = "configurator.rig.views.csrf_failure"
