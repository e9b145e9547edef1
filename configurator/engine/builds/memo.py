"""A dict that keeps only its newest entries, for memos that live as long as a
catalogue (a worker process serves many searches between catalogue changes).

Lookups stay plain dict lookups (``in``, ``get``, ``[]``); only inserting a new key
past the limit does extra work: it drops the oldest quarter of the entries, in the
order they were added. A memo entry is a pure function of its key, so a dropped one is
simply worked out again when asked for.
"""

from __future__ import annotations

from itertools import islice
from typing import Any


class BoundedMemo(dict):
    """At most ``limit`` entries; adding one more first drops the oldest quarter."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError(f"limit must be at least 1 (got {limit})")
        self.limit = limit

    def __setitem__(self, key: Any, value: Any) -> None:
        if len(self) >= self.limit and key not in self:
            for old in list(islice(iter(self), max(1, self.limit // 4))):
                self.pop(old, None)
        super().__setitem__(key, value)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
