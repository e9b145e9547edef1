""" "Must include" as people type it: part names or slugs with counts ("RTX 3090:2,
EPYC 9124", "2x RTX 3090"), resolved to catalogue slugs; and the count check the build
search does not make (it only asks that the part be in the build)."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from catalog.models import Part

MAX_COUNT = 64
_LEADING = re.compile(r"^(\d+)\s*[x×]\s*(.+)$", re.I)


def parse_must_include(text: str) -> tuple[str, ...]:
    """``slug`` or ``slug:COUNT`` per wanted part; ``ValueError`` naming must_include."""
    from configurator.forms import resolve_parts

    items = [c.strip() for c in text.split(",") if c.strip()]
    slugs = set(Part.objects.values_list("slug", flat=True))
    expanded = []
    for item in items:
        words = item.split()
        # The old form: slugs separated by spaces.
        if len(words) > 1 and all(w.partition(":")[0] in slugs for w in words):
            expanded.extend(words)
        else:
            expanded.append(item)
    out: dict[str, int] = {}
    problems = []
    for item in expanded:
        count = 1
        name = item
        leading = _LEADING.match(item)
        if leading:
            count, name = int(leading.group(1)), leading.group(2).strip()
        else:
            head, sep, tail = item.rpartition(":")
            if sep and tail.strip().isdigit():
                name, count = head.strip(), int(tail)
        if not 1 <= count <= MAX_COUNT:
            problems.append(f"{item!r}: the count must be 1–{MAX_COUNT}")
            continue
        if name in slugs:
            slug = name
        else:
            try:
                slug = resolve_parts(name).slug
            except forms.ValidationError as exc:
                problems.append(" ".join(exc.messages))
                continue
        out[slug] = max(out.get(slug, 0), count)
    if problems:
        raise ValueError("must_include: " + "; ".join(problems) + ".")
    return tuple(slug if n == 1 else f"{slug}:{n}" for slug, n in out.items())


def counts_of(must_include: tuple[str, ...]) -> dict[str, int]:
    """The counts asked for beyond one: ``{slug: count}``."""
    out = {}
    for item in must_include:
        slug, _, count = item.partition(":")
        if count:
            out[slug] = int(count)
    return out


def meets_counts(build: dict[str, Any], counts: dict[str, int]) -> bool:
    have = {line["slug"]: line["qty"] for line in build["lines"]}
    return all(have.get(slug, 0) >= n for slug, n in counts.items())


def with_counts(data: dict[str, Any], must_include: tuple[str, ...]) -> dict[str, Any]:
    """A recommendation's JSON without the builds that hold fewer of a part than asked
    (the search only asks that the part be there), saying how many went."""
    counts = counts_of(must_include)
    if not counts:
        return data
    kept = [b for b in data.get("builds", []) if meets_counts(b, counts)]
    gone = len(data.get("builds", [])) - len(kept)
    data["builds"] = kept
    if gone:
        wanted = ", ".join(f"{n} × {slug}" for slug, n in counts.items())
        data.setdefault("notes", []).append(
            f"must_include: {gone} build(s) left out for holding fewer than {wanted}."
        )
    return data
