"""Spreadsheet formula injection: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is run as a formula by Excel, LibreOffice and Google Sheets. Every
CSV RigRank writes passes its cells through ``escape_cell`` (a leading ``'`` makes the
cell text); what it reads back passes through ``unescape_cell``, so an export imports
unchanged. Plain numbers ("-5", "+1.5") are left alone: they are no formula.
"""

from __future__ import annotations

import re

from import_export.formats.base_formats import CSV, TSV

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def escape_cell(value: object) -> object:
    """``value`` made safe to open in a spreadsheet (non-strings unchanged)."""
    if not isinstance(value, str) or not value.startswith(TRIGGERS) or NUMBER.match(value):
        return value
    return "'" + value


def unescape_cell(value: object) -> object:
    """Undo ``escape_cell``: a ``'`` before a formula character is dropped."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _escape_dataset(dataset) -> None:
    rows = [[escape_cell(cell) for cell in row] for row in dataset]
    headers = [escape_cell(h) for h in dataset.headers] if dataset.headers else None
    dataset.wipe()
    if headers:
        dataset.headers = headers
    for row in rows:
        dataset.append(row)


def _unescape_dataset(dataset):
    rows = [[unescape_cell(cell) for cell in row] for row in dataset]
    headers = list(dataset.headers or [])
    dataset.wipe()
    if headers:
        dataset.headers = headers
    for row in rows:
        dataset.append(row)
    return dataset


class SafeCSV(CSV):
    """django-import-export's CSV, with formula cells escaped on export."""

    def export_data(self, dataset, **kwargs):
        _escape_dataset(dataset)
        return super().export_data(dataset, **kwargs)

    def create_dataset(self, in_stream, **kwargs):
        return _unescape_dataset(super().create_dataset(in_stream, **kwargs))


class SafeTSV(TSV):
    """django-import-export's TSV, with formula cells escaped on export."""

    def export_data(self, dataset, **kwargs):
        _escape_dataset(dataset)
        return super().export_data(dataset, **kwargs)

    def create_dataset(self, in_stream, **kwargs):
        return _unescape_dataset(super().create_dataset(in_stream, **kwargs))
