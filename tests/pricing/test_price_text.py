"""Reading a price from one element's text: formats, currencies, and what is not a price."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.money import PriceTextError, convert, parse_price_text, parse_price_value


@pytest.mark.parametrize(
    ("text", "retailer", "separator", "amount", "currency"),
    [
        ("$1,299.99", "USD", ".", "1299.99", "USD"),
        ("1.299,00 €", "EUR", ",", "1299.00", "EUR"),
        ("£949", "GBP", ".", "949.00", "GBP"),
        ("US $1,234.00", "USD", ".", "1234.00", "USD"),
        ("1 299,00 EUR", "EUR", ",", "1299.00", "EUR"),
        ("1\u202f299,00\u00a0€", "EUR", ",", "1299.00", "EUR"),
        ("C$489.99", "CAD", ".", "489.99", "CAD"),
        ("CA$1,499.99", "USD", ".", "1499.99", "CAD"),
        ("AU $1,299.00", "USD", ".", "1299.00", "AUD"),
        ("$1,499.99", "CAD", ".", "1499.99", "CAD"),  # a bare $ at a Canadian shop
        ("1.899,00 €*", "EUR", ",", "1899.00", "EUR"),
        ("2 199,00 EUR", "EUR", ",", "2199.00", "EUR"),
        ("949", "GBP", ".", "949.00", "GBP"),  # no symbol: the retailer's currency
        ("1.299", "EUR", ",", "1299.00", "EUR"),  # German thousands point
        ("Now $399", "USD", ".", "399.00", "USD"),
    ],
)
def test_it_reads_common_price_formats(text, retailer, separator, amount, currency):
    parsed = parse_price_text(text, currency=retailer, decimal_separator=separator)
    assert parsed.amount == Decimal(amount)
    assert parsed.currency == currency


def test_it_takes_the_first_number_which_is_why_callers_target_one_element():
    # price-parser reads the first number; the extractors feed it the "now" element only.
    assert parse_price_text("Was $499 Now $399").amount == Decimal("499.00")
    assert parse_price_text("Now $399").amount == Decimal("399.00")


@pytest.mark.parametrize("text", ["", "   ", "Price on request", "Free", "$0.00", "Call us"])
def test_it_refuses_text_without_a_positive_price(text):
    with pytest.raises(PriceTextError):
        parse_price_text(text)


def test_structured_prices_are_exact_decimals_never_floats():
    assert parse_price_value(Decimal("1599.99"), currency="USD").amount == Decimal("1599.99")
    assert parse_price_value("1299.9", currency="USD").amount == Decimal("1299.90")
    assert parse_price_value(949, currency="gbp").currency == "GBP"
    assert parse_price_value("3,449.00", currency="USD").amount == Decimal("3449.00")
    with pytest.raises(PriceTextError):
        parse_price_value(True)
    with pytest.raises(PriceTextError):
        parse_price_value(None)


@pytest.mark.parametrize("value", ["0", "-0.01", "0.004", "0.0049", "-5.00", "NaN", "Infinity"])
def test_a_structured_price_that_is_not_positive_in_cents_is_refused(value):
    with pytest.raises(PriceTextError):
        parse_price_value(value, currency="USD")


def test_it_converts_through_dollar_rates_and_rounds_to_cents():
    rates = {"USD": Decimal("1"), "EUR": Decimal("0.85"), "GBP": Decimal("0.75")}
    assert convert(Decimal("850.00"), "EUR", "USD", rates) == Decimal("1000.00")
    assert convert(Decimal("100.00"), "GBP", "EUR", rates) == Decimal("113.33")
    assert convert(Decimal("10"), "USD", "USD", rates) == Decimal("10.00")


def _us(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _german(amount: Decimal) -> str:
    return f"{amount:,.2f} €".replace(",", "X").replace(".", ",").replace("X", ".")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999.99"), places=2))
def test_any_amount_written_the_us_or_the_german_way_reads_back_the_same(amount):
    assert parse_price_text(_us(amount), currency="USD").amount == amount
    german = parse_price_text(_german(amount), currency="EUR", decimal_separator=",")
    assert (german.amount, german.currency) == (amount, "EUR")


@pytest.mark.parametrize("value", [[1, 2], {"amount": 1}, ("5",)])
def test_a_structured_price_that_is_a_list_or_an_object_is_refused(value):
    with pytest.raises(PriceTextError):
        parse_price_value(value, currency="USD")
