"""Pricing settings, each with its default.

The user-facing ones (``DISPLAY_CURRENCY``, ``PRICE_STALE_DAYS``, ``PRICE_OUTLIER_FRACTION``,
``PRICE_REFRESH_HOURS``) are read from the environment in ``rigrank/settings.py``; the
others are tuning knobs that tests shrink (timeouts, retries, back-off).
"""

from dataclasses import dataclass

from django.conf import settings

DEFAULTS: dict[str, object] = {
    # What the rest of RigRank shows prices in, and when a price counts as old.
    "DISPLAY_CURRENCY": "USD",
    "PRICE_STALE_DAYS": 30,
    # Outlier guard: a scraped or typed price further than this fraction from the recent
    # median of its offer is stored as suspect; a second scrape within
    # PRICE_CONFIRM_FRACTION of the suspect price confirms it.
    "PRICE_OUTLIER_FRACTION": 0.5,
    "PRICE_OUTLIER_WINDOW": 5,
    "PRICE_CONFIRM_FRACTION": 0.05,
    # A suspect price becomes current without an admin only when scrapes at that level
    # span at least this many hours (a one-off glitch scraped twice in a row does not).
    "PRICE_CONFIRM_HOURS": 24,
    # Below these (US dollars, per kind of part) a price is a placeholder or the wrong
    # product: it waits for an admin however often it is seen.
    "PRICE_FLOORS_USD": {
        "gpu": 40,
        "cpu": 20,
        "motherboard": 30,
        "memory": 5,
        "psu": 15,
        "case": 15,
        "storage": 10,
        "cooler": 5,
        "system": 100,
    },
    # Scheduling: a good offer is checked again after PRICE_REFRESH_HOURS; a failing one
    # backs off exponentially from one hour up to PRICE_FAILURE_BACKOFF_MAX_HOURS; a
    # retailer that blocks us (403, captcha) is left alone for PRICE_BLOCK_BACKOFF_HOURS.
    "PRICE_REFRESH_HOURS": 24,
    "PRICE_FAILURE_BACKOFF_MAX_HOURS": 168,
    "PRICE_BLOCK_BACKOFF_HOURS": 6,
    "PRICE_REFRESH_BATCH": 2000,
    "PRICE_DISPATCH_CHUNK": 100,
    # Spacing a run's requests to one host may not push a task further out than this:
    # it must stay well below CELERY_VISIBILITY_TIMEOUT or tasks would run twice.
    "PRICE_MAX_COUNTDOWN_S": 3600,
    "PRICE_RUN_TIMEOUT_HOURS": 3,
    "PRICE_HOST_BUSY_RETRIES": 60,
    # In eager mode (no Redis) a refresh run is processed in a background thread so the
    # page can show its progress; tests switch that off and process it in-line.
    "PRICE_EAGER_RUNS_IN_THREAD": True,
    # HTTP.
    "PRICE_CONNECT_TIMEOUT_S": 5.0,
    "PRICE_READ_TIMEOUT_S": 15.0,
    "PRICE_TOTAL_TIMEOUT_S": 30.0,
    "PRICE_MAX_BYTES": 4_000_000,
    "PRICE_MAX_REDIRECTS": 5,
    "PRICE_HTTP_RETRIES": 3,
    "PRICE_RETRY_BACKOFF_S": 1.0,
    "PRICE_RETRY_AFTER_CAP_S": 10.0,
    "PRICE_ROBOTS_CACHE_S": 24 * 3600,
    "PRICE_ROBOTS_ERROR_CACHE_S": 3600,
    # Listing pages (used marketplaces): the median of the lowest N in-condition items,
    # and no figure at all from fewer than PRICE_LISTING_MIN_ITEMS items.
    "PRICE_LISTING_LOWEST": 5,
    "PRICE_LISTING_MIN_ITEMS": 3,
}


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])


def user_agent() -> str:
    version = getattr(settings, "RIGRANK_VERSION", "0")
    return f"RigRank/{version} (+https://github.com/rigrank/rigrank; price checks)"


@dataclass(frozen=True)
class FetchPolicy:
    """How one page is fetched: timeouts in seconds, sizes in bytes."""

    connect_timeout_s: float
    read_timeout_s: float
    total_timeout_s: float
    max_bytes: int
    max_redirects: int
    retries: int
    backoff_s: float
    retry_after_cap_s: float
    robots_cache_s: int
    robots_error_cache_s: int
    user_agent: str

    @classmethod
    def from_settings(cls) -> "FetchPolicy":
        return cls(
            connect_timeout_s=float(get("PRICE_CONNECT_TIMEOUT_S")),
            read_timeout_s=float(get("PRICE_READ_TIMEOUT_S")),
            total_timeout_s=float(get("PRICE_TOTAL_TIMEOUT_S")),
            max_bytes=int(get("PRICE_MAX_BYTES")),
            max_redirects=int(get("PRICE_MAX_REDIRECTS")),
            retries=int(get("PRICE_HTTP_RETRIES")),
            backoff_s=float(get("PRICE_RETRY_BACKOFF_S")),
            retry_after_cap_s=float(get("PRICE_RETRY_AFTER_CAP_S")),
            robots_cache_s=int(get("PRICE_ROBOTS_CACHE_S")),
            robots_error_cache_s=int(get("PRICE_ROBOTS_ERROR_CACHE_S")),
            user_agent=user_agent(),
        )
