"""Fetch one page politely: one session, timeouts, bounded retries, robots.txt, a size cap.

- urllib3 ``Retry`` on the session's adapter retries connection errors, read timeouts,
  5xx and 429 with exponential back-off and jitter, honouring ``Retry-After`` up to
  PRICE_RETRY_AFTER_CAP_S. A longer ``Retry-After`` (a 3600 s header) ends the retries
  at once and comes back as a ``rate_limited`` failure carrying the wait, so the caller
  reschedules instead of parking a worker for an hour.
- Redirects are followed here, not by requests, so that every hop is checked: http/https
  only, robots.txt, the per-host gate, a loop detector and a hop limit.
- The body is streamed and abandoned beyond PRICE_MAX_BYTES or PRICE_TOTAL_TIMEOUT_S.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from pricing import gate, robots
from pricing.conf import FetchPolicy
from rigrank import netguard

REDIRECT_CODES = {301, 302, 303, 307, 308}
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml")


class FetchError(Exception):
    """The page could not be fetched. ``outcome`` is a ScrapeAttempt outcome code."""

    def __init__(
        self,
        outcome: str,
        message: str,
        *,
        http_status: int | None = None,
        retry_after_s: float | None = None,
        url: str = "",
        body: bytes = b"",
    ):
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        self.url = url
        self.body = body


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    status: int
    content_type: str
    encoding: str | None
    body: bytes
    redirects: tuple[str, ...]


class PoliteRetry(Retry):
    """Retry that refuses to sleep longer than ``retry_after_cap_s`` for Retry-After."""

    def __init__(self, *args, retry_after_cap_s: float = 10.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after_cap_s = retry_after_cap_s

    def new(self, **kwargs):
        new = super().new(**kwargs)
        new.retry_after_cap_s = self.retry_after_cap_s
        return new

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, **kw):
        if response is not None and response.headers.get("Retry-After"):
            try:
                wait = self.parse_retry_after(response.headers["Retry-After"])
            except InvalidHeader:
                wait = None
            if wait is not None and wait > self.retry_after_cap_s:
                # MaxRetryError with raise_on_status=False hands the response back as is.
                reason = ResponseError(f"Retry-After {wait:.0f} s is beyond our cap")
                raise MaxRetryError(_pool, url, reason)
        return super().increment(method, url, response, error, _pool, **kw)


_sessions = threading.local()


def session_for(policy: FetchPolicy) -> requests.Session:
    """One pooled session per thread and policy."""
    cached = getattr(_sessions, "value", None)
    if cached is not None and cached[0] == policy:
        return cached[1]
    session = requests.Session()
    retry = PoliteRetry(
        total=policy.retries,
        connect=policy.retries,
        read=min(1, policy.retries),
        status=policy.retries,
        other=0,
        backoff_factor=policy.backoff_s,
        backoff_jitter=policy.backoff_s / 2,
        backoff_max=policy.retry_after_cap_s,
        status_forcelist={429, 500, 502, 503, 504},
        allowed_methods={"GET", "HEAD"},
        raise_on_status=False,
        respect_retry_after_header=True,
        retry_after_max=int(policy.retry_after_cap_s) + 1,
        retry_after_cap_s=policy.retry_after_cap_s,
    )
    adapter = netguard.GuardedAdapter(max_retries=retry, pool_connections=8, pool_maxsize=8)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = policy.max_redirects
    session.headers.update(
        {
            "User-Agent": policy.user_agent,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            "Accept-Language": "en;q=0.9, *;q=0.5",
        }
    )
    _sessions.value = (policy, session)
    return session


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise FetchError("bad_url", f"only http and https URLs are fetched, not {url[:100]!r}")
    if not parts.hostname:
        raise FetchError("bad_url", f"no host name in {url[:100]!r}")
    try:
        netguard.check_url(url)
    except netguard.BlockedAddress as exc:
        raise FetchError("bad_url", str(exc)[:300], url=url) from None


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    return match.group(1) if match else None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return Retry().parse_retry_after(value)
    except InvalidHeader:
        return None


def _read_body(response: requests.Response, policy: FetchPolicy, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(
            "too_large",
            f"page is {int(declared):,} bytes, above the {policy.max_bytes:,}-byte cap",
            http_status=response.status_code,
            url=response.url,
        )
    chunks, size = [], 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchError(
                "too_large",
                f"page is larger than the {policy.max_bytes:,}-byte cap (stopped reading)",
                http_status=response.status_code,
                url=response.url,
            )
        if time.monotonic() > deadline:
            raise FetchError(
                "timeout",
                f"page took longer than {policy.total_timeout_s:g} s to download",
                http_status=response.status_code,
                url=response.url,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _status_error(response: requests.Response, body: bytes) -> FetchError:
    status, url = response.status_code, response.url
    label = f"HTTP {status} {response.reason or ''}".strip()
    retry_after = _retry_after(response)
    if status == 429 or (status == 503 and retry_after is not None):
        wait = f" (Retry-After: {retry_after:.0f} s)" if retry_after is not None else ""
        return FetchError(
            "rate_limited",
            f"{label}{wait}",
            http_status=status,
            retry_after_s=retry_after,
            url=url,
        )
    if status in {404, 410}:
        return FetchError("not_found", f"{label}: the page is gone", http_status=status, url=url)
    if status == 403:
        return FetchError(
            "blocked", f"{label}: the site refuses our requests", http_status=status, url=url,
            body=body,
        )  # fmt: skip
    suffix = " after retries" if status >= 500 else ""
    return FetchError("http_error", f"{label}{suffix}", http_status=status, url=url)


def fetch_page(
    url: str,
    *,
    policy: FetchPolicy,
    interval_s: float = 0.0,
    max_wait_s: float = 0.0,
    check_robots: bool = True,
) -> Page:
    """GET ``url`` as RigRank, or raise FetchError (or gate.HostBusy).

    ``interval_s`` is the per-host minimum interval; ``max_wait_s`` how long this call
    may wait for the host before raising HostBusy (0 in a worker, which reschedules).
    """
    session = session_for(policy)
    seen = [url]
    current = url
    waiter = _HostWaiter(max_wait_s)
    for _hop in range(policy.max_redirects + 1):
        check_url(current)
        host = urlsplit(current).netloc.lower()
        spacing = interval_s
        if check_robots:
            verdict = robots.verdict(
                current,
                session=session,
                policy=policy,
                before_fetch=lambda host=host, spacing=spacing: waiter.wait(host, spacing),
            )
            if verdict.unreachable:
                outcome = "timeout" if "timed out" in verdict.reason else "connection_error"
                raise FetchError(outcome, verdict.reason, url=current)
            if not verdict.allowed:
                raise FetchError("robots_disallowed", verdict.reason, url=current)
            if verdict.crawl_delay_s:
                spacing = max(spacing, verdict.crawl_delay_s)
        waiter.wait(host, spacing)
        deadline = time.monotonic() + policy.total_timeout_s
        try:
            response = session.get(
                current,
                timeout=(policy.connect_timeout_s, policy.read_timeout_s),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout:
            raise FetchError(
                "timeout", f"no connection within {policy.connect_timeout_s:g} s", url=current
            ) from None
        except requests.exceptions.ReadTimeout:
            raise FetchError(
                "timeout", f"no response within {policy.read_timeout_s:g} s", url=current
            ) from None
        except requests.exceptions.SSLError as exc:
            raise FetchError("connection_error", f"TLS error: {exc}"[:300], url=current) from None
        except requests.exceptions.ConnectionError as exc:
            cause = _root_cause(exc)
            if cause == "timed out":
                message = f"no response within {policy.read_timeout_s:g} s, after retries"
                raise FetchError("timeout", message, url=current) from None
            message = f"connection failed: {cause}"
            raise FetchError("connection_error", message[:300], url=current) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise FetchError("bad_url", f"unusable URL: {exc}"[:300], url=current) from None
        except requests.RequestException as exc:
            raise FetchError("connection_error", f"{type(exc).__name__}: {exc}"[:300]) from None
        with response:
            if response.status_code in REDIRECT_CODES and response.headers.get("Location"):
                target = urljoin(current, response.headers["Location"])
                if target in seen:
                    chain = " → ".join([*seen[seen.index(target) :], target])
                    raise FetchError(
                        "too_many_redirects",
                        f"redirect loop: {chain}"[:500],
                        http_status=response.status_code,
                        url=current,
                    )
                seen.append(target)
                current = target
                continue
            try:
                body = _read_body(response, policy, deadline)
            except requests.RequestException as exc:
                message = f"download failed: {_root_cause(exc)}"
                outcome = "timeout" if "timed out" in message.lower() else "connection_error"
                raise FetchError(outcome, message[:300], url=current) from None
            if response.status_code >= 400:
                raise _status_error(response, body)
            content_type = response.headers.get("Content-Type", "")
            if content_type and not content_type.lower().startswith(HTML_TYPES):
                raise FetchError(
                    "not_html",
                    f"not an HTML page (Content-Type: {content_type[:80]})",
                    http_status=response.status_code,
                    url=current,
                )
            return Page(
                url=current,
                status=response.status_code,
                content_type=content_type,
                encoding=_charset(content_type),
                body=body,
                redirects=tuple(seen[1:]),
            )
    raise FetchError(
        "too_many_redirects",
        f"more than {policy.max_redirects} redirects: " + " → ".join(seen)[:400],
        url=current,
    )


class _HostWaiter:
    """Waits at the per-host gate; after our own request, one interval is expected.

    It also spaces this call's own requests (robots.txt, then the page) by the interval,
    which a robots.txt Crawl-delay may have raised after the first one was sent.
    """

    def __init__(self, max_wait_s: float):
        self.max_wait_s = max_wait_s
        self.last: dict[str, float] = {}

    def wait(self, host: str, interval_s: float) -> None:
        allowed = self.max_wait_s if not self.last else max(self.max_wait_s, 3 * interval_s + 1)
        if host in self.last and interval_s > 0:
            pause = self.last[host] + interval_s - time.monotonic()
            if pause > allowed:
                raise gate.HostBusy(host, pause)
            if pause > 0:
                time.sleep(pause)
        gate.host_wait(host, interval_s, max_wait_s=allowed)
        self.last[host] = time.monotonic()


def _root_cause(exc: BaseException) -> str:
    """The innermost meaningful error text of a requests/urllib3 exception chain."""
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    text = str(reason or inner)
    if "timed out" in text.lower() or "timeout" in text.lower():
        return "timed out"
    return re.sub(r"<urllib3[^>]*>:?\s*", "", text)[:200]
