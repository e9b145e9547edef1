"""schema.org JSON-LD, read leniently, one ``<script>`` block at a time.

A page's blocks are parsed separately so that one malformed block (a trailing comma, a
comment, a stray semicolon from a template) costs only that block, not the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

WRAPPERS = re.compile(r"^\s*(?:<!--|<!\[CDATA\[|//\s*<!\[CDATA\[)|(?:-->|\]\]>|//\s*\]\]>)\s*$")


class JsonLdError(ValueError):
    pass


def _strip_comments_and_trailing_commas(text: str) -> str:
    """Remove // and /* */ comments and trailing commas outside strings."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif ch in "}]":
            # Drop a comma that only whitespace separates from this closing bracket.
            j = len(out) - 1
            while j >= 0 and out[j].isspace():
                j -= 1
            if j >= 0 and out[j] == ",":
                del out[j]
            out.append(ch)
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def loads(text: str) -> object:
    """Parse one JSON-LD block; numbers with a fraction become Decimal, never float."""
    body = text.strip()
    # Strip HTML comment / CDATA wrappers that some templates put around the JSON.
    body = WRAPPERS.sub("", body).strip()
    body = WRAPPERS.sub("", body).strip()
    try:
        return json.loads(body, parse_float=Decimal, strict=False)
    except RecursionError:
        raise JsonLdError("invalid JSON (nested too deeply)") from None
    except ValueError:
        pass
    cleaned = _strip_comments_and_trailing_commas(body).strip().rstrip(";").strip()
    try:
        return json.loads(cleaned, parse_float=Decimal, strict=False)
    except RecursionError:
        raise JsonLdError("invalid JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise JsonLdError(
            f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
        raise JsonLdError(f"invalid JSON ({exc})") from None


def types_of(node: dict) -> set[str]:
    """Lower-case local type names: "http://schema.org/Product" -> "product"."""
    raw = node.get("@type") or node.get("type") or []
    values = raw if isinstance(raw, list) else [raw]
    return {re.split(r"[/:#]", str(v))[-1].strip().lower() for v in values if v}


def iter_nodes(data: object) -> Iterator[dict]:
    """Every JSON object in the document, outermost first (lists and @graph included)."""
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            yield item
            stack[0:0] = list(item.values())
        elif isinstance(item, list):
            stack[0:0] = item


PRODUCT_TYPES = {"product", "productgroup", "individualproduct", "productmodel", "someproducts"}
SKIPPED_PRICE_TYPES = re.compile(
    r"strikethrough|listprice|msrp|srp|invoice|minimumadvertised", re.I
)


@dataclass(frozen=True)
class RawOffer:
    """An offer as written in the page, before its price text is parsed."""

    price: object
    currency: str
    availability: str
    condition: str
    label: str
    product_name: str
    url: str


def _text(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("name") or value.get("url") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _price_from_specification(spec: object) -> tuple[object, str] | None:
    specs = spec if isinstance(spec, list) else [spec]
    for item in specs:
        if not isinstance(item, dict):
            continue
        if SKIPPED_PRICE_TYPES.search(_text(item.get("priceType"))):
            continue
        price = item.get("price", item.get("minPrice"))
        if price not in (None, ""):
            return price, _text(item.get("priceCurrency"))
    return None


def offers_of(offer: object, *, product_name: str = "") -> Iterator[RawOffer]:
    """The priced offers inside an Offer / AggregateOffer (or a list of them)."""
    if isinstance(offer, list):
        for item in offer:
            yield from offers_of(item, product_name=product_name)
        return
    if not isinstance(offer, dict):
        return
    kinds = types_of(offer)
    nested = offer.get("offers")
    if nested and "aggregateoffer" in kinds:
        yield from offers_of(nested, product_name=product_name)
        return
    common = {
        "currency": _text(offer.get("priceCurrency")),
        "availability": _text(offer.get("availability")),
        "condition": _text(offer.get("itemCondition")),
        "product_name": product_name or _text(_name_of(offer.get("itemOffered"))),
        "url": _text(offer.get("url")),
    }
    if "aggregateoffer" in kinds:
        low = offer.get("lowPrice", offer.get("price"))
        if low not in (None, ""):
            yield RawOffer(price=low, label="AggregateOffer lowPrice", **common)
        return
    price = offer.get("price")
    label = "Offer price"
    if price in (None, ""):
        found = _price_from_specification(offer.get("priceSpecification"))
        if found is None:
            return
        price, spec_currency = found
        common["currency"] = common["currency"] or spec_currency
        label = "Offer priceSpecification"
    yield RawOffer(price=price, label=label, **common)


def _name_of(node: object) -> str:
    if isinstance(node, dict):
        return _text(node.get("name"))
    return ""


@dataclass(frozen=True)
class Product:
    name: str
    url: str
    offers: tuple[RawOffer, ...]


def products(data: object) -> Iterator[Product]:
    """Products with at least one priced offer, plus bare top-level offers as products."""
    for node in iter_nodes(data):
        kinds = types_of(node)
        if kinds & PRODUCT_TYPES and "offers" in node:
            name = _text(node.get("name"))
            found = tuple(offers_of(node["offers"], product_name=name))
            if found:
                yield Product(name=name, url=_text(node.get("url")), offers=found)
        elif kinds & {"offer", "aggregateoffer"} and "itemOffered" in node:
            found = tuple(offers_of(node))
            if found:
                yield Product(name=found[0].product_name, url=found[0].url, offers=found)


def names(data: object) -> Iterator[str]:
    for node in iter_nodes(data):
        if types_of(node) & PRODUCT_TYPES and node.get("name"):
            yield _text(node.get("name"))
