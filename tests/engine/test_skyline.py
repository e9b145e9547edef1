"""The pruning skyline keeps exactly the parts no earlier part dominates, whether the
list is short (pairwise in Python) or long (compared as an array)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from configurator.engine.builds.platforms import SKYLINE_VECTOR_FROM, skyline


@dataclass(frozen=True)
class Item:
    slug: str
    values: tuple[float, ...]


def undominated(items: list[Item]) -> list[str]:
    """By definition: in (values, slug) order, a part stays unless an earlier one is no
    worse in every value."""
    ordered = sorted(items, key=lambda i: (i.values, i.slug))
    kept = []
    for index, item in enumerate(ordered):
        if not any(
            all(a <= b for a, b in zip(other.values, item.values, strict=True))
            for other in ordered[:index]
        ):
            kept.append(item.slug)
    return kept


@pytest.mark.parametrize("count", [5, SKYLINE_VECTOR_FROM, SKYLINE_VECTOR_FROM + 1, 400])
def test_skyline_keeps_the_undominated_parts(count: int) -> None:
    rng = random.Random(count)
    # Few distinct values, so ties and exact duplicates are common; a price in cents.
    items = [
        Item(
            f"part-{n:03d}",
            (
                rng.randrange(100, 200) + rng.choice((0.0, 0.25, 0.5)),
                -rng.randrange(4),
                -float(rng.randrange(6)),
                rng.randrange(3),
            ),
        )
        for n in range(count)
    ]
    kept = [item.slug for item in skyline(items, lambda i: i.values)]
    assert kept == undominated(items)
    assert 0 < len(kept) < count or count <= 5
