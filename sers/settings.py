"""SERS settings, read from the environment.

With no environment at all this gives the *embedded first run*: a SQLite file,
Celery tasks executed eagerly in the web process and mail printed to the
console. Set ``DATABASE_URL=postgres://…`` and ``REDIS_URL=redis://…`` and the
same code runs on PostgreSQL with a Redis broker and a real Celery worker.
README.md lists every variable.
"""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# --- Core ---------------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=False)

# No secret lives in git. A development key is used only with DEBUG on; without
# it and without SECRET_KEY, Django refuses to sign anything ("The SECRET_KEY
# setting must not be empty").
SECRET_KEY = env_str("SECRET_KEY") or ("django-insecure-local-development-only" if DEBUG else "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Absolute address of the site, for links in emails and for Stripe's return URLs.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Widget templates (e.g. the date of birth boxes) live in templates/ like the rest.
    "django.forms",
    "crispy_forms",
    "crispy_bootstrap5",
    "import_export",
    "simple_history",
    "axes",
    "django_ratelimit",
    "sers",
    "outbox",
    "invitations",
    "articulations",
    "students",
    "registration",
    "grading",
    "credit_lists",
    "district",
    "payments",
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
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sers.urls"
WSGI_APPLICATION = "sers.wsgi.application"
ASGI_APPLICATION = "sers.asgi.application"

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
                "sers.context_processors.site",
            ],
        },
    },
]

FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# --- Database -----------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Transactions are explicit: every service opens its own transaction.atomic().
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery -------------------------------------------------

# Empty means the embedded run: no broker, tasks run eagerly in the web process.
REDIS_URL = env_str("REDIS_URL")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sers",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The embedded run is one process, so its memory cache is shared enough for
    # django-ratelimit's counters; with Redis the counters live in Redis.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Tasks report through the database (an outbox row, an export batch), not results.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "America/Los_Angeles"
# A task that hangs is killed rather than holding a worker forever; long jobs
# (large exports) raise their own limits, always below the visibility timeout.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_LONGEST_TASK_SECONDS = 1800
# Every task is safe to run twice (ids in, fresh rows loaded, unique keys), so
# acknowledge only after the work is done: a worker killed mid-task loses nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers an unacknowledged task after this many seconds; it must be
# longer than the longest task or that task would run twice while still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * CELERY_LONGEST_TASK_SECONDS}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # The outbox's safety net: an email whose task was lost is queued again.
    "send-stuck-emails": {"task": "outbox.tasks.send_ready_emails", "schedule": 300},
    # An Excel file whose build was lost is marked failed, so the registrar can ask again.
    "fail-stuck-exports": {"task": "credit_lists.tasks.fail_stuck_exports", "schedule": 600},
    # Staff verify free/reduced-lunch waivers in bulk; this puts each one in their queue.
    "open-free-lunch-waivers": {
        "task": "payments.tasks.open_free_lunch_waivers",
        "schedule": 900,
    },
    # Daily; it mails only in the last two weeks before a payment deadline, once a year each.
    "send-payment-reminders": {"task": "payments.tasks.send_payment_reminders", "schedule": 86400},
    # A card payment whose webhook was lost is recorded within minutes, not after Stripe's
    # retries (which may take hours); card pages left open too long are closed.
    "reconcile-checkouts": {"task": "payments.tasks.reconcile_checkouts", "schedule": 120},
}

# --- Mail ---------------------------------------------------------------------

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
_mail_backend = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_mail_options = {}
if _mail_backend == SMTP_BACKEND:
    _mail_options = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", default=False),
        "timeout": env_int("EMAIL_TIMEOUT", 20),
    }
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SERS <no-reply@pnwcollegecredit.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Stripe -------------------------------------------------------------------

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Empty means Stripe itself; tests point it at a local stand-in.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
# A page and the webhook wait on Stripe; a slow Stripe must not hold them (or a worker) for
# the client's default 80 s per try. Retries are safe: every create carries an idempotency key.
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 10)
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 1)
# How long a card page takes payment, in whole minutes: Stripe allows 30 minutes to 24
# hours, and the page's end is rounded down to the minute, so keep it within 31–1440.
STRIPE_CHECKOUT_MINUTES = env_int("STRIPE_CHECKOUT_MINUTES", 60)
# A card page still open after this many minutes is asked about by the beat job: its
# webhook may have been lost.
STRIPE_RECONCILE_AFTER_MINUTES = env_int("STRIPE_RECONCILE_AFTER_MINUTES", 5)

# --- Accounts -----------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username+address is refused before any password check.
    "axes.backends.AxesStandaloneBackend",
    "students.auth.UsernameOrSersIdBackend",
]
# Five wrong passwords for one username from one address lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "students/locked_out.html"
AXES_VERBOSE = False
# A SERS ID typed as "tp3 07 4412" or "TP3-07-4412" counts as one username.
AXES_USERNAME_CALLABLE = "students.auth.username_for_throttling"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time and language ----------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/Los_Angeles"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------

# Export files (registrars' credit lists) are kept here so staff can download a batch again.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
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

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security -----------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool(
    "SECURE_COOKIES", default=not DEBUG and SITE_URL.startswith("https")
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
)
X_FRAME_OPTIONS = "DENY"

# --- The consortium shown in the footer ----------------------------------------------
# The catalog keeps consortia as rows; this is the office students contact
# before they have an account, taken from the program sheet.

SERS_CONTACT = {
    "name": env_str("SERS_CONTACT_NAME", "PNW College Credit"),
    "address_lines": env_list(
        "SERS_CONTACT_ADDRESS",
        ["Bellevue College, MS N-211", "3000 Landerholm Circle SE", "Bellevue, WA 98007"],
    ),
    "email": env_str("SERS_CONTACT_EMAIL", "info@PNWcollegecredit.org"),
    "phone": env_str("SERS_CONTACT_PHONE", "425-564-6060"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
