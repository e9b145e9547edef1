"""Part-name suggestions for the rig page and "must include" (autocomplete)."""

from __future__ import annotations

import re
from typing import Any

from configurator import adapters

KINDS = ("gpu", "cpu", "system", "memory", "motherboard", "psu", "case", "storage", "cooler")
LIMIT = 20


def suggest_parts(query: str, kind: str = "", limit: int = LIMIT) -> list[dict[str, Any]]:
    """Parts whose slug, brand or name holds every word of ``query`` (all parts of
    ``kind`` when the query is empty), new before used, as slug/name/kind dicts."""
    if kind and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r}).")
    words = [w for w in re.split(r"[^a-z0-9]+", query.lower()) if w]
    found = []
    for part in adapters.catalogue().parts:
        if kind and part.kind != kind:
            continue
        text = f"{part.slug} {part.brand} {part.name}".lower()
        if all(w in text for w in words):
            found.append(part)
    found.sort(key=lambda p: (p.used, p.label))
    return [
        {"slug": p.slug, "name": p.label, "kind": p.kind, "condition": p.condition}
        for p in found[:limit]
    ]
