"""Settings for the test suite: the real settings, with a throwaway key and plain static
file storage (manifest storage would need collectstatic before every run)."""

import os

if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = "test-only-secret-key-not-for-production-use-0123456789"

from rigrank.settings import *  # noqa: E402,F403
from rigrank.settings import STORAGES  # noqa: E402

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests make hundreds of requests from one address within a minute: the limits are
# switched on by the tests of the limits themselves.
SHARE_RATE_PER_HOUR = 0
API_RATE_PER_MINUTE = 0
MEASURE_RATE_PER_HOUR = 0
# The test shops and hubs listen on 127.0.0.1; the SSRF tests switch this off.
PRICE_FETCH_ALLOW_PRIVATE = True
# Results warm-up after a change runs in a background thread when Celery is eager; tests
# call it directly instead.
RESULTS_WARM_IN_THREAD = False
