"""Money helpers without Django: price text to (Decimal, ISO code), and conversion.

price-parser reads the *first* number in a text ("Was $499 Now $399" gives 499), so
callers pass the text of one targeted element, never a whole block of a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from price_parser import Price

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000")
ISO_CODE = re.compile(r"^[A-Z]{3}$")

# Currencies we expect on hardware retailers' pages; anything else must be spelled as an
# ISO code on the page (or be the retailer's own currency).
KNOWN_CODES = frozenset(
    "USD EUR GBP CAD AUD NZD JPY CNY CHF SEK NOK DKK PLN CZK HUF INR KRW SGD HKD TWD "
    "MXN BRL ZAR".split()
)
CODE_WORD = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(KNOWN_CODES)) + r")(?![A-Za-z])")
DOLLAR_CODES = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN"})
KRONA_CODES = frozenset({"SEK", "NOK", "DKK"})

# Prefixes that pin down which dollar a "$" is ("US $1,234.00", "CA$1,499", "A$ 999").
DOLLAR_PREFIXES = [
    (re.compile(r"(?<![A-Z])(?:US|USD)\s?\$", re.I), "USD"),
    (re.compile(r"(?<![A-Z])(?:CA|CAD|C)\s?\$", re.I), "CAD"),
    (re.compile(r"(?<![A-Z])(?:AU|AUD|A)\s?\$", re.I), "AUD"),
    (re.compile(r"(?<![A-Z])(?:NZ|NZD)\s?\$", re.I), "NZD"),
    (re.compile(r"(?<![A-Z])(?:HK|HKD)\s?\$", re.I), "HKD"),
    (re.compile(r"(?<![A-Z])(?:S|SGD)\s?\$", re.I), "SGD"),
]
SYMBOLS = {
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "₩": "KRW",
    "zł": "PLN",
    "kč": "CZK",
    "ft": "HUF",
    "fr.": "CHF",
    "r$": "BRL",
}


class PriceTextError(ValueError):
    """The text holds no usable price; the message says why."""


@dataclass(frozen=True)
class ParsedPrice:
    amount: Decimal
    currency: str
    text: str


def normalise_code(code: str) -> str:
    code = (code or "").strip().upper()
    return code if ISO_CODE.match(code) else ""


def currency_from_text(symbol: str | None, text: str, default: str) -> str:
    """The ISO code meant by a currency symbol or code found in ``text``.

    ``default`` (the retailer's currency) decides what a bare "$", "¥" or "kr" means
    and is used when the text names no currency at all.
    """
    default = normalise_code(default) or "USD"
    for pattern, code in DOLLAR_PREFIXES:
        if pattern.search(text):
            return code
    raw = (symbol or "").strip()
    code = normalise_code(raw)
    if code in KNOWN_CODES:
        return code
    named = CODE_WORD.search(text)
    if named:
        return named.group(1).upper()
    lowered = raw.lower()
    if lowered in SYMBOLS:
        return SYMBOLS[lowered]
    if "$" in raw:
        return default if default in DOLLAR_CODES else "USD"
    if raw in {"¥", "円", "元", "￥"}:
        return default if default in {"JPY", "CNY"} else "JPY"
    if lowered in {"kr", "kr.", ":-"}:
        return default if default in KRONA_CODES else "SEK"
    if "€" in raw:
        return "EUR"
    if "£" in raw:
        return "GBP"
    return default


def to_amount(value: object) -> Decimal:
    """A positive amount rounded to cents, or PriceTextError."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise PriceTextError(f"{value!r} is not a number") from exc
    if not amount.is_finite():
        raise PriceTextError(f"{value!r} is not a finite number")
    if amount >= MAX_AMOUNT:
        raise PriceTextError(f"{value!r} is implausibly large for a part")
    # Compared after rounding: "0.004" would otherwise be stored as 0.00.
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount <= 0:
        raise PriceTextError(f"{value!r} is not a price (zero or negative)")
    return amount


PLAIN_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*$")
# A minus sign (hyphen, the Unicode minus, dashes) anywhere before the first digit:
# "-5.00", "$-5.00", "-$5.00", "USD −5.00". price-parser drops it, so look first.
MINUS_BEFORE_NUMBER = re.compile(r"^[^\d]*[-\u2212\u2012\u2013\u2014\ufe63\uff0d][^\d]*\d")


def parse_price_text(
    text: str, *, currency: str = "USD", decimal_separator: str | None = None
) -> ParsedPrice:
    """Read the price in one element's text: "$1,299.99", "1.299,00 €", "£949"...

    ``currency`` is the retailer's currency (for bare "$" or no symbol) and
    ``decimal_separator`` the retailer's ("," for most of continental Europe).
    """
    clean = " ".join((text or "").split())
    if not clean:
        raise PriceTextError("empty price text")
    if len(clean) > 200:
        clean = clean[:200]
    if MINUS_BEFORE_NUMBER.match(clean):
        raise PriceTextError(f"price text {clean!r} is negative: not a price")
    parsed = Price.fromstring(clean, decimal_separator=decimal_separator or None)
    if parsed.amount is None:
        raise PriceTextError(f"no number in price text {clean!r}")
    amount = to_amount(parsed.amount)
    return ParsedPrice(amount, currency_from_text(parsed.currency, clean, currency), clean)


def parse_price_value(
    value: object, *, currency: str = "USD", decimal_separator: str | None = None
) -> ParsedPrice:
    """A structured-data price: a number, a plain "1299.99" string, or price text."""
    # A list or an object is not one price (its text "[1, 2]" would read as 12).
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise PriceTextError(f"{str(value)[:40]!r} is not a price")
    if isinstance(value, int | float | Decimal) or PLAIN_NUMBER.match(str(value)):
        return ParsedPrice(to_amount(value), normalise_code(currency) or "USD", str(value))
    return parse_price_text(str(value), currency=currency, decimal_separator=decimal_separator)


class MissingRate(LookupError):
    pass


def convert(amount: Decimal, source: str, target: str, per_usd: Mapping[str, Decimal]) -> Decimal:
    """``amount`` in ``source`` currency expressed in ``target``, rounded to cents.

    ``per_usd`` maps ISO codes to how many units of that currency one US dollar buys.
    """
    if source == target:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    try:
        usd = amount / per_usd[source]
        return (usd * per_usd[target]).quantize(CENT, rounding=ROUND_HALF_UP)
    except KeyError as exc:
        raise MissingRate(f"no exchange rate for {exc.args[0]}") from None
