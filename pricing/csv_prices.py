"""Prices in and out of a CSV file: the admin's bulk price edits.

The export writes every active offer with its current price (its latest trusted
observation). The import reads the same columns back. Every row is checked before
anything is written, and a single bad row means nothing is imported; each good row
appends a manual observation through ``observation_add``, so the outlier guard treats it
exactly like a price typed on an offer's page. Existing observations are never touched.

An exported offer without a price has an empty ``amount``; the import skips such rows
(and says how many) so an exported file always imports back.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from catalog.models import Part
from pricing.models import Offer, PriceObservation, Retailer
from pricing.money import MAX_AMOUNT, PriceTextError, to_amount
from pricing.observations import exchange_rates, observation_add
from rigrank.csvsafe import escape_cell, unescape_cell

EXPORT_COLUMNS = (
    "part_slug",
    "part_name",
    "retailer",
    "url",
    "condition",
    "amount",
    "currency",
    "in_stock",
    "observed_at",
    "origin",
)
REQUIRED_COLUMNS = ("part_slug", "retailer", "amount")
# Written by the export for people to read; the import accepts and ignores them.
INFO_COLUMNS = ("part_name", "observed_at", "origin")
MAX_BYTES = 5_000_000
IN_STOCK_WORDS = {
    "true": True,
    "1": True,
    "yes": True,
    "false": False,
    "0": False,
    "no": False,
    "unknown": None,
}
IN_STOCK_ALLOWED = "true, false, 1, 0, yes, no or unknown; empty means true"
LISTED = 20  # allowed values named in one message, at most


@dataclass(frozen=True)
class RowError:
    """What is wrong with one cell (or one line, when ``column`` is empty)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


class CsvPriceError(ValueError):
    """The file cannot be imported; ``errors`` lists every problem, by line and column."""

    def __init__(self, errors: Iterable[RowError]):
        self.errors = sorted(errors, key=lambda e: e.line)
        more = len(self.errors) - 3
        text = "; ".join(str(e) for e in self.errors[:3])
        super().__init__(text + (f" (and {more} more)" if more > 0 else ""))


@dataclass(frozen=True)
class SuspectRow:
    line: int
    offer: str
    amount: Decimal
    currency: str
    baseline: Decimal | None

    def __str__(self) -> str:
        baseline = f", recent median {self.baseline:,.2f}" if self.baseline else ""
        return f"line {self.line}: {self.offer}, {self.amount:,.2f} {self.currency}{baseline}"


@dataclass
class ImportReport:
    added: int = 0
    offers_created: int = 0
    suspect: list[SuspectRow] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)  # rows with no amount

    @property
    def summary(self) -> str:
        text = f"Added {self.added} price(s)"
        if self.suspect:
            text += f", {len(self.suspect)} of them suspect (held for review)"
        if self.offers_created:
            text += f"; created {self.offers_created} offer(s)"
        if self.skipped_lines:
            lines = _lines(self.skipped_lines)
            text += f"; skipped {len(self.skipped_lines)} row(s) without an amount ({lines})"
        return text + "."

    @property
    def suspect_summary(self) -> str:
        rows = "; ".join(str(row) for row in self.suspect[:LISTED])
        more = len(self.suspect) - LISTED
        rows += f"; and {more} more" if more > 0 else ""
        return (
            "Far from the offer's recent price, so stored as suspect and not used until "
            f"accepted under “Suspect prices to review”: {rows}."
        )


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:LISTED])
    more = len(numbers) - LISTED
    return "line " + shown + (f" and {more} more" if more > 0 else "")


def _allowed(values: Iterable[str]) -> str:
    values = sorted(values)
    more = len(values) - LISTED
    return ", ".join(values[:LISTED]) + (f" and {more} more" if more > 0 else "")


# --- export ------------------------------------------------------------------------------


def _latest_trusted(offers: QuerySet[Offer]) -> dict[int, PriceObservation]:
    rows = (
        PriceObservation.objects.trusted()
        .filter(offer__in=offers.order_by().values("pk"))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("offer_id")],
                order_by=[F("observed_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
    )
    return {obs.offer_id: obs for obs in rows}


def _stock_word(in_stock: bool | None) -> str:
    return {True: "true", False: "false", None: "unknown"}[in_stock]


def prices_csv_export(offers: QuerySet[Offer] | None = None) -> str:
    """CSV text of every active offer (of ``offers``, default all) and its current price.

    The price is the offer's latest trusted observation; an offer without one has empty
    amount, currency, in_stock, observed_at and origin. ``observed_at`` is UTC ISO 8601.
    """
    offers = (Offer.objects.all() if offers is None else offers).filter(active=True)
    latest = _latest_trusted(offers)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    rows = offers.select_related("part", "retailer").order_by(
        "part__slug", "retailer__name", "url", "pk"
    )
    for offer in rows:
        obs = latest.get(offer.pk)
        price = ["", "", "", "", ""]
        if obs is not None:
            price = [
                str(obs.amount),
                obs.currency,
                _stock_word(obs.in_stock),
                obs.observed_at.astimezone(UTC).isoformat(timespec="seconds"),
                obs.origin,
            ]
        row = [offer.part.slug, offer.part.name, offer.retailer.name, offer.url, offer.condition]
        writer.writerow([escape_cell(cell) for cell in row + price])
    return out.getvalue()


# --- import ------------------------------------------------------------------------------


def prices_csv_decode(data: bytes) -> str:
    """The text of an uploaded file: UTF-8, with or without the BOM Excel writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = "the file is not UTF-8 text (in a spreadsheet, save as “CSV UTF-8”)"
        raise CsvPriceError([RowError(line, "", message)]) from None


@dataclass
class _Row:
    line: int
    offer: Offer  # unsaved when the row creates it
    amount: Decimal | None
    currency: str
    in_stock: bool | None


def _records(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """Each non-blank record by column, with the line it starts on, and the lines that
    hold more values than the header names columns. A bad header raises at once."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    # Spreadsheets in comma-decimal locales save with semicolons.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for values in reader:
            if any(v.strip() for v in values):
                records.append((start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvPriceError([RowError(start, "", f"not readable as CSV ({exc})")]) from None
    if not records:
        message = "the file is empty; the first line names the columns, e.g. " + ",".join(
            EXPORT_COLUMNS
        )
        raise CsvPriceError([RowError(1, "", message)])
    header_line, raw_header = records[0]
    header = [name.strip().lower() for name in raw_header]
    _check_header(header_line, header)
    rows = []
    errors = []
    for line, values in records[1:]:
        extra = [v for v in values[len(header) :] if v.strip()]
        if extra:
            message = f"{len(values)} values but the header names {len(header)} columns"
            errors.append(RowError(line, "", message))
            continue
        values = values + [""] * (len(header) - len(values))
        cells = zip(header, values, strict=False)
        rows.append((line, {name: unescape_cell(v.strip()) for name, v in cells}))
    if not rows and not errors:
        raise CsvPriceError([RowError(header_line, "", "no price rows after the header")])
    return rows, errors


def _check_header(line: int, header: list[str]) -> None:
    errors = []
    seen: set[str] = set()
    for name in header:
        if name not in EXPORT_COLUMNS:
            label = repr(name) if name else "(empty)"
            message = f"unknown column {label}; the columns are {', '.join(EXPORT_COLUMNS)}"
            errors.append(RowError(line, "", message))
        elif name in seen:
            errors.append(RowError(line, name, "this column appears more than once"))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in header:
            errors.append(RowError(line, "", f"missing column {name!r} (required)"))
    if errors:
        raise CsvPriceError(errors)


class _Catalogue:
    """The parts, retailers, offers and rates a file refers to, loaded in a few queries."""

    def __init__(self, rows: list[tuple[int, dict[str, str]]]):
        slugs = {row["part_slug"] for _, row in rows if row.get("part_slug")}
        self.parts = {p.slug: p for p in Part.objects.filter(slug__in=slugs)}
        self.retailers = list(Retailer.objects.all())
        self.offers: dict[tuple[int, int], list[Offer]] = {}
        offers = Offer.objects.filter(part__in=self.parts.values()).order_by("url", "pk")
        for offer in offers.select_related("part", "retailer"):
            self.offers.setdefault((offer.part_id, offer.retailer_id), []).append(offer)
        self.rates = exchange_rates()
        self._all_slugs: list[str] | None = None

    def part(self, slug: str) -> Part | str:
        if slug in self.parts:
            return self.parts[slug]
        if self._all_slugs is None:
            self._all_slugs = list(Part.objects.values_list("slug", flat=True))
        close = difflib.get_close_matches(slug, self._all_slugs, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"no part has this slug (got {slug!r}){hint}"

    def retailer(self, name: str) -> Retailer | str:
        for retailer in self.retailers:
            if name in (retailer.name, retailer.slug):
                return retailer
        folded = [r for r in self.retailers if name.casefold() == r.name.casefold()]
        if len(folded) == 1:
            return folded[0]
        names = _allowed(r.name for r in self.retailers) or "none yet"
        return f"no retailer has this name (got {name!r}); the retailers are {names}"


def _default_condition(part: Part) -> str:
    return Offer.Condition.USED if part.condition == Part.Condition.USED else Offer.Condition.NEW


def _offer(
    line: int, row: dict[str, str], part: Part, retailer: Retailer, cat: _Catalogue, *, create: bool
) -> Offer | RowError:
    url = row.get("url", "")
    condition = row.get("condition", "").lower()
    offers = cat.offers.get((part.pk, retailer.pk), [])
    if url:
        found = next((o for o in offers if o.url == url), None)
        if found is None:
            if not create:
                return RowError(line, "url", "no offer has this URL, and you may not add offers")
            found = Offer(
                part=part,
                retailer=retailer,
                url=url,
                condition=condition or _default_condition(part),
            )
            try:
                found.full_clean(exclude=["part", "retailer"])
            except ValidationError as exc:
                column, messages = next(iter(exc.message_dict.items()))
                column = "condition" if column == "condition" else "url"
                got = found.condition if column == "condition" else url
                return RowError(line, column, f"{' '.join(messages)} (got {got!r})")
            return found
        if not found.active:
            return RowError(line, "url", "the offer at this URL is inactive; activate it first")
    else:
        active = [o for o in offers if o.active]
        if not active:
            return RowError(
                line, "url", f"{part} has no active offer at {retailer}; give a url to add one"
            )
        if len(active) > 1:
            urls = ", ".join(o.url or "(no URL)" for o in active)
            message = f"{part} has {len(active)} active offers at {retailer}; give the url of one: "
            return RowError(line, "url", message + urls)
        found = active[0]
    if condition and condition != found.condition:
        message = (
            f"the offer is {found.condition}; change it on the offer's page (got {condition!r})"
        )
        return RowError(line, "condition", message)
    return found


def _amount(value: str) -> Decimal | None | str:
    if not value:
        return None
    try:
        return to_amount(value)
    except PriceTextError:
        return (
            f"must be a positive number below {MAX_AMOUNT:,} with a point for decimals, "
            f"e.g. 1299.99 (got {value!r})"
        )


def _check_row(
    line: int, row: dict[str, str], cat: _Catalogue, *, create: bool
) -> _Row | list[RowError]:
    errors: list[RowError] = []
    offer: Offer | RowError | None = None
    part: Part | str = "must name a part, e.g. nvidia-rtx-4090 (got nothing)"
    if row["part_slug"]:
        part = cat.part(row["part_slug"])
    if isinstance(part, str):
        errors.append(RowError(line, "part_slug", part))
    retailer: Retailer | str = "must name a retailer (got nothing)"
    if row["retailer"]:
        retailer = cat.retailer(row["retailer"])
    if isinstance(retailer, str):
        errors.append(RowError(line, "retailer", retailer))
    amount = _amount(row["amount"])
    if isinstance(amount, str):
        errors.append(RowError(line, "amount", amount))
    currency = row.get("currency", "").upper()
    if not currency and isinstance(retailer, Retailer):
        currency = retailer.currency
    if currency and currency not in cat.rates:
        allowed = f"must be an ISO code with an exchange rate: {_allowed(cat.rates)}"
        got = (
            f"got {row['currency']!r}" if row.get("currency") else f"empty: {retailer}'s {currency}"
        )
        errors.append(RowError(line, "currency", f"{allowed} ({got})"))
    in_stock_text = row.get("in_stock", "").lower() or "true"
    if in_stock_text not in IN_STOCK_WORDS:
        message = f"must be {IN_STOCK_ALLOWED} (got {row['in_stock']!r})"
        errors.append(RowError(line, "in_stock", message))
    condition = row.get("condition", "").lower()
    if condition and condition not in Offer.Condition.values:
        message = f"must be {', '.join(Offer.Condition.values)} or empty (got {condition!r})"
        errors.append(RowError(line, "condition", message))
    elif isinstance(part, Part) and isinstance(retailer, Retailer):
        offer = _offer(line, row, part, retailer, cat, create=create)
        if isinstance(offer, RowError):
            errors.append(offer)
    if errors:
        return errors
    return _Row(line, offer, amount, currency, IN_STOCK_WORDS.get(in_stock_text))


def prices_csv_check(text: str, *, create_offers: bool = True) -> list[_Row]:
    """Every row of ``text`` checked and resolved to its offer; CsvPriceError lists all
    problems. Rows without an amount come back with ``amount=None``."""
    records, errors = _records(text)
    cat = _Catalogue(records)
    rows: list[_Row] = []
    seen: dict[object, int] = {}
    for line, record in records:
        checked = _check_row(line, record, cat, create=create_offers)
        if isinstance(checked, list):
            errors.extend(checked)
            continue
        offer = checked.offer
        key = offer.pk or (offer.part_id, offer.retailer_id, offer.url)
        if checked.amount is not None and key in seen:
            message = f"the same offer as line {seen[key]}; one price per offer per file"
            errors.append(RowError(line, "url", message))
            continue
        if checked.amount is not None:
            seen[key] = line
        rows.append(checked)
    if errors:
        raise CsvPriceError(errors)
    return rows


def prices_csv_import(
    text: str, *, user=None, source: str = "", create_offers: bool = True
) -> ImportReport:
    """Append one manual price per row of ``text``, or nothing at all (CsvPriceError).

    ``source`` (the file name) goes into each observation's source text. A row whose
    ``url`` names no offer of its part at its retailer adds that offer, unless
    ``create_offers`` is false (the user may not add offers): then it is an error.
    """
    rows = prices_csv_check(text, create_offers=create_offers)
    report = ImportReport()
    origin_text = "CSV import" + (f" of {source}" if source else "")
    origin_text += f" by {user}" if user is not None else ""
    with transaction.atomic():
        for row in rows:
            if row.amount is None:
                report.skipped_lines.append(row.line)
                continue
            if row.offer.pk is None:
                row.offer.save()
                report.offers_created += 1
            observation = observation_add(
                offer=row.offer,
                amount=row.amount,
                currency=row.currency,
                origin=PriceObservation.Origin.MANUAL,
                in_stock=row.in_stock,
                source_text=f"{origin_text}, line {row.line}",
                method="csv",
                created_by=user,
            )
            report.added += 1
            if observation.suspect:
                report.suspect.append(
                    SuspectRow(
                        row.line,
                        str(row.offer),
                        observation.amount,
                        observation.currency,
                        observation.baseline_amount,
                    )
                )
    return report
