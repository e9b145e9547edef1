"""Refresh runs: choose offers, plan their spacing per host, hand them to workers.

A run's plan lists its offers stalest first, each with a delay: the k-th offer of a host
waits k intervals, so the workers' requests arrive at each host already spaced out and
the per-host gate rarely has to turn one away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from pricing import conf
from pricing.gate import HostBusy
from pricing.models import Offer, RefreshRun, ScrapeAttempt
from pricing.refresh import offer_record_failure, offer_refresh

log = logging.getLogger(__name__)


def task_id_for(run_id: int, offer_id: int) -> str:
    """Deterministic, so a re-sent dispatch produces the same task, not a second one."""
    return f"pricing-refresh-{run_id}-{offer_id}"


def scrapeable_offers() -> QuerySet[Offer]:
    return (
        Offer.objects.filter(
            active=True, retailer__scrape_enabled=True, retailer__is_reference=False
        )
        .exclude(url="")
        .select_related("retailer")
    )


def due_offers(now=None) -> QuerySet[Offer]:
    """Scrapeable offers whose next check is due, stalest first."""
    now = now or timezone.now()
    return (
        scrapeable_offers()
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
        .filter(Q(retailer__backoff_until__isnull=True) | Q(retailer__backoff_until__lte=now))
        .order_by(F("last_checked_at").asc(nulls_first=True), "id")
    )


def run_plan(offers: Iterable[Offer]) -> tuple[list[list], int]:
    """([[offer_id, delay_s], ...], how many were left for a later run)."""
    max_delay = float(conf.get("PRICE_MAX_COUNTDOWN_S"))
    next_slot: dict[str, float] = {}
    plan, left_out = [], 0
    for offer in offers:
        host = offer.host
        delay = next_slot.get(host, 0.0)
        if delay > max_delay:
            left_out += 1
            continue
        plan.append([offer.pk, round(delay, 3)])
        if host:
            next_slot[host] = delay + float(offer.retailer.request_interval_s)
    return plan, left_out


def run_create(*, offers: Iterable[Offer], trigger: str, requested_by=None) -> RefreshRun:
    plan, left_out = run_plan(offers)
    note = ""
    if left_out:
        note = (
            f"{left_out} offer(s) left for a later run: spacing requests to their hosts "
            f"would push them beyond {conf.get('PRICE_MAX_COUNTDOWN_S')} s."
        )
    run = RefreshRun.objects.create(
        trigger=trigger,
        requested_by=requested_by,
        total=len(plan),
        plan=plan,
        note=note,
        finished_at=timezone.now() if not plan else None,
    )
    return run


def run_create_due(*, now=None) -> RefreshRun | None:
    """A scheduled run of the due offers (None when nothing is due).

    The due rows are locked with SKIP LOCKED and pushed out of "due" in the same
    transaction, so two overlapping schedulers never dispatch the same offer twice.
    """
    now = now or timezone.now()
    limit = int(conf.get("PRICE_REFRESH_BATCH"))
    with transaction.atomic():
        offers = list(due_offers(now).select_for_update(skip_locked=True, of=("self",))[:limit])
        if not offers:
            return None
        run = run_create(offers=offers, trigger=RefreshRun.Trigger.SCHEDULE)
        planned = [offer_id for offer_id, _ in run.plan]
        hold = now + timedelta(hours=float(conf.get("PRICE_RUN_TIMEOUT_HOURS")))
        Offer.objects.filter(pk__in=planned).update(next_check_at=hold)
    return run


def run_start(run: RefreshRun, *, queue: str | None = None) -> None:
    """Start processing ``run`` once the current transaction commits."""
    if run.is_finished:
        return
    run_id, count = run.pk, run.total
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        # No broker: process in this process. A thread lets the progress page poll.
        if conf.get("PRICE_EAGER_RUNS_IN_THREAD"):
            transaction.on_commit(lambda: _start_thread(run_id))
        else:
            transaction.on_commit(lambda: run_process_inline(run_id))
        return
    transaction.on_commit(lambda: run_enqueue(run_id, count, queue=queue))


def run_enqueue(run_id: int, count: int, *, queue: str | None = None) -> None:
    """Fan out: one dispatch task per chunk of the plan."""
    from pricing.tasks import dispatch_refresh

    chunk = int(conf.get("PRICE_DISPATCH_CHUNK"))
    sent = 0
    try:
        for start in range(0, count, chunk):
            dispatch_refresh.apply_async(args=(run_id, start, start + chunk), queue=queue)
            sent = min(count, start + chunk)
    except (KombuOperationalError, RedisError, OSError) as exc:
        run_broker_down(run_id, unsent=count - sent, error=exc)


def run_broker_down(run_id: int, *, unsent: int, error: Exception) -> None:
    """The broker refused the run's tasks: count the unsent offers as skipped and say
    why on the run, so its page neither waits forever nor pretends to work."""
    log.error(
        "refresh run %s: broker unreachable, %s offer(s) not sent",
        run_id,
        unsent,
        extra={"error_class": type(error).__name__},
    )
    note = (
        f"The task broker (Redis) is down: {unsent} offer(s) were not sent to the workers "
        "and nothing was fetched for them. Start the run again once /healthz reports the "
        "broker ok."
    )
    with transaction.atomic():
        run = RefreshRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        run.skipped += unsent
        run.note = f"{run.note}\n{note}".strip()
        if run.reported >= run.total and run.finished_at is None:
            run.finished_at = timezone.now()
        run.save(update_fields=["skipped", "note", "finished_at"])


def run_dispatch(run_id: int, start: int, stop: int, *, queue: str | None = None) -> int:
    """Send one refresh task per planned offer in ``plan[start:stop]``."""
    from pricing.tasks import refresh_offer

    run = RefreshRun.objects.filter(pk=run_id).only("plan").first()
    if run is None:
        return 0
    sent = 0
    for offer_id, delay in run.plan[start:stop]:
        refresh_offer.apply_async(
            args=(offer_id, run_id),
            task_id=task_id_for(run_id, offer_id),
            countdown=delay or None,
            queue=queue,
        )
        sent += 1
    return sent


def _start_thread(run_id: int) -> None:
    def work() -> None:
        try:
            run_process_inline(run_id)
        finally:
            connections.close_all()

    threading.Thread(target=work, name=f"price-run-{run_id}", daemon=True).start()


def run_process_inline(run_id: int) -> None:
    """Process a whole run here, one offer after the other (eager mode, no broker)."""
    run = RefreshRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    for offer_id, _delay in run.plan:
        task_id = task_id_for(run_id, offer_id)
        for attempt in range(4):
            try:
                offer_refresh(
                    offer_id=offer_id,
                    run_id=run_id,
                    task_id=task_id,
                    worker="in-process",
                    wait_for_host=True,
                )
                break
            except HostBusy as busy:
                if attempt == 3:
                    offer_record_failure(
                        offer_id=offer_id,
                        run_id=run_id,
                        task_id=task_id,
                        worker="in-process",
                        outcome=ScrapeAttempt.Outcome.HOST_BUSY,
                        message=f"gave up waiting: {busy}",
                    )
                else:
                    time.sleep(min(busy.wait_s, 5.0))
            except Exception as exc:
                log.exception("refresh of offer %s in run %s failed", offer_id, run_id)
                offer_record_failure(
                    offer_id=offer_id,
                    run_id=run_id,
                    task_id=task_id,
                    worker="in-process",
                    outcome=ScrapeAttempt.Outcome.ERROR,
                    message=f"{type(exc).__name__}: {exc}",
                )
                break


def runs_close_stalled(now=None) -> int:
    """Finish runs that have waited longer than PRICE_RUN_TIMEOUT_HOURS, saying so."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=float(conf.get("PRICE_RUN_TIMEOUT_HOURS")))
    closed = 0
    for run in RefreshRun.objects.filter(finished_at__isnull=True, created_at__lt=cutoff):
        note = (
            f"Stopped waiting at {now:%Y-%m-%d %H:%M} UTC: {run.remaining} offer(s) never reported."
        )
        run.note = f"{run.note}\n{note}".strip()
        run.finished_at = now
        run.save(update_fields=["note", "finished_at"])
        closed += 1
    return closed
