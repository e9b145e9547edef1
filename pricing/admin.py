"""Admin: retailers and their selectors, offers with their price history and last
attempts, suspect prices to review, exchange rates, refresh runs, and prices in and out of
CSV files (the work is in ``pricing.csv_prices``).

Observations are append-only here too: they can be added (a manual price on an offer's
page) but never edited or deleted; a suspect one is accepted or rejected by adding a
review.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from pricing.csv_prices import (
    IN_STOCK_ALLOWED,
    MAX_BYTES,
    CsvPriceError,
    prices_csv_decode,
    prices_csv_export,
    prices_csv_import,
)
from pricing.current import current_price
from pricing.extract import candidates
from pricing.models import (
    ExchangeRate,
    Offer,
    PriceObservation,
    PriceReview,
    RefreshRun,
    Retailer,
    ScrapeAttempt,
    SuspectPrice,
)
from pricing.observations import below_floor, observation_add, observations_review
from pricing.runs import run_create, run_start
from pricing.scrape import hints_for, scrape

HISTORY_ROWS = 50
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}
ATTEMPT_ROWS = 10


def _money(amount, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


# --- offers on each part ------------------------------------------------------------------


class OfferInline(admin.TabularInline):
    """A part's offers, attached to every part admin at start-up (see apps.py)."""

    model = Offer
    fk_name = "part"
    extra = 0
    fields = ("retailer", "url", "page_kind", "condition", "active", "latest", "last_attempt")
    readonly_fields = ("latest", "last_attempt")
    show_change_link = True
    formfield_overrides = URL_FIELDS
    verbose_name_plural = "offers (prices: open an offer for its history)"

    @admin.display(description="latest price")
    def latest(self, offer: Offer) -> str:
        if not offer.pk:
            return "—"
        obs = offer.observations.order_by("-observed_at", "-id").first()
        if obs is None:
            return "no price yet"
        flag = " (suspect)" if obs.suspect else ""
        return f"{_money(obs.amount, obs.currency)}, {obs.observed_at:%Y-%m-%d}{flag}"

    @admin.display(description="last attempt")
    def last_attempt(self, offer: Offer) -> str:
        attempt = offer.attempts.first() if offer.pk else None
        if attempt is None:
            return "—"
        return f"{attempt.get_outcome_display()} {attempt.started_at:%Y-%m-%d %H:%M}"


@admin.display(description="current price")
def part_current_price(part) -> str:
    price = current_price(part)
    if price is None:
        return "—"
    stale = " (stale)" if price.stale else ""
    return f"{_money(price.amount, price.currency)}{stale}"


def _with_offers(get_inlines):
    """Offers on an existing part's page; the add form stays exactly the catalogue's."""

    def wrapped(request: HttpRequest, obj: Any = None):
        inlines = list(get_inlines(request, obj))
        return [*inlines, OfferInline] if obj is not None else inlines

    return wrapped


def attach_offer_inline(site: admin.AdminSite | None = None) -> None:
    """Add OfferInline to every registered admin of catalog.Part or a Part kind, and the
    current price column to the catalogue's part lists."""
    from catalog.models import Part

    site = site or admin.site
    for model, model_admin in site._registry.items():
        if issubclass(model, Part) and not getattr(model_admin, "_with_offers", False):
            model_admin.get_inlines = _with_offers(model_admin.get_inlines)
            model_admin._with_offers = True
    if site is admin.site:
        try:
            from catalog.admin import _EXTRA_PART_COLUMNS, register_part_column
        except ImportError:
            return
        if not any(column is part_current_price for column, _ in _EXTRA_PART_COLUMNS):
            register_part_column(part_current_price)


# --- retailers ---------------------------------------------------------------------------


@admin.register(Retailer)
class RetailerAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "domain",
        "country",
        "currency",
        "scrape_enabled",
        "request_interval_s",
        "backoff_until",
    )
    list_filter = ("scrape_enabled", "country", "currency")
    search_fields = ("name", "domain")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    change_form_template = "pricing/admin/retailer_change_form.html"
    formfield_overrides = URL_FIELDS
    fieldsets = (
        (None, {"fields": ("name", "slug", "website", "domain", "country", "notes")}),
        (
            "Fetching",
            {
                "fields": (
                    "scrape_enabled",
                    "is_reference",
                    "request_interval_s",
                    "currency",
                    "decimal_separator",
                    "backoff_until",
                    "backoff_reason",
                )
            },
        ),
        (
            "Selectors (only for pages without structured data)",
            {"fields": ("price_selector", "availability_selector", "title_selector")},
        ),
        (
            "Listing pages",
            {
                "fields": (
                    "listing_item_selector",
                    "listing_price_selector",
                    "listing_title_selector",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_urls(self):
        test = self.admin_site.admin_view(self.test_selectors_view)
        return [
            path("<int:retailer_id>/test-selectors/", test, name="pricing_retailer_test"),
            *super().get_urls(),
        ]

    def test_selectors_view(self, request: HttpRequest, retailer_id: int) -> HttpResponse:
        retailer = get_object_or_404(Retailer, pk=retailer_id)
        if not self.has_view_or_change_permission(request, retailer):
            return redirect("admin:index")
        initial = {name: getattr(retailer, name) for name in SelectorTestForm.SELECTOR_FIELDS}
        form = SelectorTestForm(request.POST or None, initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test selectors: {retailer}",
            "retailer": retailer,
            "opts": self.model._meta,
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            context.update(selector_test(retailer, form.cleaned_data))
        return TemplateResponse(request, "pricing/admin/test_selectors.html", context)


class SelectorTestForm(forms.Form):
    SELECTOR_FIELDS = (
        "price_selector",
        "availability_selector",
        "title_selector",
        "listing_item_selector",
        "listing_price_selector",
        "listing_title_selector",
    )
    url = forms.URLField(label="Page URL", assume_scheme="https", max_length=1000)
    listing = forms.BooleanField(required=False, label="This is a listing / search page")
    condition = forms.ChoiceField(choices=[("", "any"), *Offer.Condition.choices], required=False)
    price_selector = forms.CharField(required=False)
    availability_selector = forms.CharField(required=False)
    title_selector = forms.CharField(required=False)
    listing_item_selector = forms.CharField(required=False)
    listing_price_selector = forms.CharField(required=False)
    listing_title_selector = forms.CharField(required=False)


def selector_test(retailer: Retailer, data: dict[str, Any]) -> dict[str, Any]:
    """Fetch and extract without saving; every extractor's answer, for the admin page."""
    overrides = {name: data.get(name, "") for name in SelectorTestForm.SELECTOR_FIELDS}
    hints = hints_for(retailer, condition=data.get("condition") or "", listing=data["listing"])
    hints = dataclasses.replace(hints, **overrides)
    result = scrape(
        data["url"], hints=hints, interval_s=retailer.request_interval_s, max_wait_s=30.0
    )
    found = []
    if result.page is not None:
        found, _ = candidates(
            result.page.body, url=result.page.url, hints=hints, encoding=result.page.encoding
        )
    return {"result": result, "candidates": found}


# --- offers --------------------------------------------------------------------------------


class ManualPriceForm(forms.ModelForm):
    currency = forms.CharField(
        max_length=3, required=False, help_text="Empty: the retailer's currency."
    )

    class Meta:
        model = PriceObservation
        fields = ("amount", "currency", "in_stock", "source_text")

    def clean(self):
        data = super().clean()
        if not data.get("currency") and self.instance.offer_id:
            data["currency"] = self.instance.offer.retailer.currency
            self.instance.currency = data["currency"]
        return data


class ManualPriceInline(admin.TabularInline):
    """Add a price checked by hand. Existing history is shown read-only above."""

    model = PriceObservation
    form = ManualPriceForm
    fields = ("amount", "currency", "in_stock", "source_text")
    extra = 1
    can_delete = False
    verbose_name = "manual price (kept as history; checked by the outlier guard)"
    verbose_name_plural = "add a manual price"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).none()


class RefreshButtonMixin:
    change_list_template = "pricing/admin/refresh_change_list.html"


class PriceCsvForm(forms.Form):
    file = forms.FileField(label="CSV file")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(f"At most {MAX_BYTES // 1_000_000} MB, please.")
        return upload


def _csv_download(offers=None) -> HttpResponse:
    name = f"rigrank-prices-{timezone.now():%Y-%m-%d}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # The byte-order mark makes spreadsheets read the file as UTF-8; the import drops it.
    response.write("\ufeff" + prices_csv_export(offers))
    return response


@admin.register(Offer)
class OfferAdmin(RefreshButtonMixin, admin.ModelAdmin):
    list_display = (
        "part",
        "retailer",
        "condition",
        "page_kind",
        "active",
        "latest_price",
        "last_checked_at",
        "last_outcome",
        "next_check_at",
    )
    list_filter = ("active", "retailer", "condition", "page_kind")
    search_fields = ("part__name", "part__slug", "part__brand", "url")
    raw_id_fields = ("part",)
    formfield_overrides = URL_FIELDS
    list_select_related = ("part", "retailer")
    inlines = [ManualPriceInline]
    actions = ["refresh_now", "export_csv"]
    change_list_template = "pricing/admin/offer_change_list.html"
    readonly_fields = (
        "price_history",
        "recent_attempts",
        "last_checked_at",
        "last_success_at",
        "next_check_at",
        "consecutive_failures",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("part", "retailer", "url", "page_kind", "condition", "active")}),
        ("Notes", {"fields": ("notes",), "classes": ("collapse",)}),
        ("Price history", {"fields": ("price_history",)}),
        (
            "Attempts",
            {
                "fields": (
                    "recent_attempts",
                    "last_checked_at",
                    "last_success_at",
                    "next_check_at",
                    "consecutive_failures",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_urls(self):
        export_view = self.admin_site.admin_view(self.export_csv_view)
        import_view = self.admin_site.admin_view(self.import_csv_view)
        return [
            path("export-csv/", export_view, name="pricing_offer_export"),
            path("import-csv/", import_view, name="pricing_offer_import"),
            *super().get_urls(),
        ]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _csv_download()

    def import_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("pricing.add_priceobservation"):
            raise PermissionDenied
        form = PriceCsvForm(request.POST or None, request.FILES or None)
        errors: list = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            create = request.user.has_perm("pricing.add_offer")
            try:
                text = prices_csv_decode(upload.read())
                report = prices_csv_import(
                    text, user=request.user, source=upload.name, create_offers=create
                )
            except CsvPriceError as exc:
                errors = exc.errors
            else:
                self.message_user(request, report.summary, messages.SUCCESS)
                if report.suspect:
                    self.message_user(request, report.suspect_summary, messages.WARNING)
                return redirect("admin:pricing_priceobservation_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Import prices from CSV",
            "opts": self.model._meta,
            "form": form,
            "errors": errors,
            "in_stock_allowed": IN_STOCK_ALLOWED,
        }
        return TemplateResponse(request, "pricing/admin/import_prices.html", context)

    def get_queryset(self, request: HttpRequest):
        last = ScrapeAttempt.objects.filter(offer=OuterRef("pk")).order_by("-started_at", "-id")
        newest = PriceObservation.objects.filter(offer=OuterRef("pk")).order_by(
            "-observed_at", "-id"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                _last_outcome=Subquery(last.values("outcome")[:1]),
                _last_message=Subquery(last.values("message")[:1]),
                _latest_amount=Subquery(newest.values("amount")[:1]),
                _latest_currency=Subquery(newest.values("currency")[:1]),
            )
        )

    @admin.display(description="latest price")
    def latest_price(self, offer: Offer) -> str:
        amount = getattr(offer, "_latest_amount", None)
        if amount is None:
            return "—"
        return _money(amount, offer._latest_currency)

    @admin.display(description="last attempt")
    def last_outcome(self, offer: Offer) -> str:
        outcome = getattr(offer, "_last_outcome", None)
        if not outcome:
            return "—"
        label = ScrapeAttempt.Outcome(outcome).label
        return format_html('<span title="{}">{}</span>', offer._last_message or "", label)

    @admin.display(description="price history (newest first)")
    def price_history(self, offer: Offer) -> str:
        if not offer.pk:
            return "—"
        rows = offer.observations.select_related("review").order_by("-observed_at", "-id")
        total = offer.observations.count()
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{obs.observed_at:%Y-%m-%d %H:%M}",
                    _money(obs.amount, obs.currency),
                    {True: "in stock", False: "out of stock", None: "?"}[obs.in_stock],
                    obs.get_origin_display(),
                    _review_state(obs),
                    obs.source_text[:160],
                )
                for obs in rows[:HISTORY_ROWS]
            ),
        )
        link = (
            reverse("admin:pricing_priceobservation_changelist") + f"?offer__id__exact={offer.pk}"
        )
        return format_html(
            "<table><thead><tr><th>observed</th><th>price</th><th>stock</th><th>origin</th>"
            "<th>status</th><th>read from</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All {} observations</a></p>',
            body,
            link,
            total,
        )

    @admin.display(description="recent attempts")
    def recent_attempts(self, offer: Offer) -> str:
        if not offer.pk:
            return "—"
        rows = offer.attempts.all()[:ATTEMPT_ROWS]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            (
                (
                    f"{a.started_at:%Y-%m-%d %H:%M}",
                    a.get_outcome_display(),
                    a.http_status or "",
                    a.duration_ms,
                    a.message[:300],
                )
                for a in rows
            ),
        )
        if not body:
            return "never fetched"
        return format_html(
            "<table><thead><tr><th>when</th><th>outcome</th><th>HTTP</th><th>took</th>"
            "<th>message</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not PriceObservation:
            return super().save_formset(request, form, formset, change)
        created = []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            if not data or not inline_form.has_changed() or data.get("amount") is None:
                continue
            observation = observation_add(
                offer=form.instance,
                amount=data["amount"],
                currency=data.get("currency") or form.instance.retailer.currency,
                origin=PriceObservation.Origin.MANUAL,
                in_stock=data.get("in_stock"),
                source_text=data.get("source_text") or f"entered by {request.user}",
                method="admin",
                created_by=request.user,
            )
            created.append(observation)
            if observation.suspect:
                floor = below_floor(form.instance, observation.amount, observation.currency)
                why = (
                    f"is below the floor for a {form.instance.part.get_kind_display()} "
                    f"({floor} {observation.currency})"
                    if floor is not None
                    else f"is far from this offer's recent median ({observation.baseline_amount})"
                )
                self.message_user(
                    request,
                    f"{observation.amount} {observation.currency} {why}: stored as suspect and "
                    "not used until accepted under “Suspect prices to review”.",
                    messages.WARNING,
                )
        formset.new_objects, formset.changed_objects, formset.deleted_objects = created, [], []

    @admin.action(description="Refresh selected offers now")
    def refresh_now(self, request: HttpRequest, queryset) -> HttpResponse:
        offers = queryset.select_related("retailer").order_by("last_checked_at", "id")
        run = run_create(offers=offers, trigger=RefreshRun.Trigger.ADMIN, requested_by=request.user)
        run_start(run)
        return HttpResponseRedirect(reverse("pricing:run", args=[run.pk]))

    @admin.action(description="Export selected active offers' prices as CSV")
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        return _csv_download(queryset)


def _review_state(obs: PriceObservation) -> str:
    if not obs.suspect:
        return "used" if not obs.confirms_id else "used (confirmed a suspect price)"
    decision = obs.review_decision
    if decision:
        return f"suspect, {decision}"
    return "suspect: awaiting review"


# --- observations and reviews --------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReviewActions:
    actions = ["accept", "reject"]

    @admin.action(description="Accept selected suspect prices (use them)")
    def accept(self, request: HttpRequest, queryset) -> None:
        count = observations_review(
            queryset, decision=PriceReview.Decision.ACCEPTED, reviewed_by=request.user
        )
        self.message_user(request, f"Accepted {count} suspect price(s).", messages.SUCCESS)

    @admin.action(description="Reject selected suspect prices (never use them)")
    def reject(self, request: HttpRequest, queryset) -> None:
        count = observations_review(
            queryset, decision=PriceReview.Decision.REJECTED, reviewed_by=request.user
        )
        self.message_user(request, f"Rejected {count} suspect price(s).", messages.SUCCESS)


OBSERVATION_COLUMNS = (
    "observed_at",
    "part",
    "retailer",
    "price",
    "in_stock",
    "origin",
    "method",
    "status",
)


class ObservationColumns:
    @admin.display(description="part", ordering="offer__part__name")
    def part(self, obs: PriceObservation) -> str:
        return str(obs.offer.part)

    @admin.display(description="retailer", ordering="offer__retailer__name")
    def retailer(self, obs: PriceObservation) -> str:
        url = reverse("admin:pricing_offer_change", args=[obs.offer_id])
        return format_html('<a href="{}">{}</a>', url, obs.offer.retailer)

    @admin.display(description="price", ordering="amount")
    def price(self, obs: PriceObservation) -> str:
        return _money(obs.amount, obs.currency)

    @admin.display(description="status")
    def status(self, obs: PriceObservation) -> str:
        return _review_state(obs)


@admin.register(PriceObservation)
class PriceObservationAdmin(ReviewActions, ObservationColumns, ReadOnlyAdmin):
    list_display = OBSERVATION_COLUMNS
    list_filter = ("origin", "suspect", "currency", "offer__retailer", "in_stock")
    search_fields = ("offer__part__name", "offer__part__slug", "source_text")
    list_select_related = ("offer__part", "offer__retailer", "review")
    date_hierarchy = "observed_at"
    change_list_template = "pricing/admin/observation_change_list.html"


@admin.register(SuspectPrice)
class SuspectPriceAdmin(ReviewActions, ObservationColumns, ReadOnlyAdmin):
    list_display = (
        "observed_at",
        "part",
        "retailer",
        "price",
        "baseline",
        "change",
        "source_text",
    )
    list_select_related = ("offer__part", "offer__retailer")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).needs_review()

    @admin.display(description="recent median")
    def baseline(self, obs: PriceObservation) -> str:
        return _money(obs.baseline_amount, obs.currency) if obs.baseline_amount else "—"

    @admin.display(description="change")
    def change(self, obs: PriceObservation) -> str:
        fraction = obs.change_fraction
        return "—" if fraction is None else f"{fraction * 100:+.0f} %"


@admin.register(ScrapeAttempt)
class ScrapeAttemptAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "offer", "outcome", "http_status", "duration_ms", "message")
    list_filter = ("outcome", "offer__retailer")
    search_fields = ("offer__part__name", "message", "url")
    list_select_related = ("offer__part", "offer__retailer")
    date_hierarchy = "started_at"


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("currency", "per_usd", "as_of", "source")
    list_editable = ("per_usd", "as_of")
    search_fields = ("currency",)


@admin.register(RefreshRun)
class RefreshRunAdmin(RefreshButtonMixin, ReadOnlyAdmin):
    list_display = (
        "__str__",
        "requested_by",
        "total",
        "done",
        "failed",
        "skipped",
        "remaining",
        "finished_at",
        "progress",
    )
    list_filter = ("trigger",)

    @admin.display(description="progress page")
    def progress(self, run: RefreshRun) -> str:
        return format_html('<a href="{}">open</a>', reverse("pricing:run", args=[run.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("pricing:run", args=[object_id]))
