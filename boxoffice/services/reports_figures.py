"""The shapes report figures travel in: tables (shown on a page and exported as CSV from the same rows) and
Chart.js charts (a JSON spec that static/js/charts.js draws). Nothing here queries or renders HTML."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
TENTH = Decimal("0.1")

# How a column's values are shown: "text", "count", "money", "percent" (a number of per cent), "number",
# "days", "date", "month" (a date standing for its month) or "datetime".
KINDS = ("text", "count", "money", "percent", "number", "days", "date", "month", "datetime")


def money(value: Decimal | int | None) -> Decimal:
    """An amount to the cent (None counts as nothing)."""
    return Decimal(value or 0).quantize(CENT, ROUND_HALF_UP)


def ratio(part: Decimal | int | None, whole: Decimal | int | None, scale: Decimal = CENT) -> Decimal | None:
    """part / whole rounded half up to `scale`; None when there is no whole to divide by."""
    if not whole:
        return None
    return (Decimal(part or 0) / Decimal(whole)).quantize(scale, ROUND_HALF_UP)


def percent(part: Decimal | int | None, whole: Decimal | int | None) -> Decimal | None:
    """part as a percentage of whole, to one decimal; None when whole is zero."""
    if not whole:
        return None
    return (100 * Decimal(part or 0) / Decimal(whole)).quantize(TENTH, ROUND_HALF_UP)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown column kind {self.kind!r}")

    @property
    def numeric(self) -> bool:
        return self.kind not in ("text", "date", "month", "datetime")


@dataclass(frozen=True)
class Table:
    """A table of figures. `name` is its address for the CSV export; a page shows at most `shown` rows, of
    `total` in all when only those were read (None: the rows are all of them)."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    note: str | None = None
    shown: int | None = None
    total: int | None = None

    @property
    def row_count(self) -> int:
        return len(self.rows) if self.total is None else self.total

    @property
    def visible_rows(self) -> list[dict[str, Any]]:
        return self.rows if self.shown is None else self.rows[:self.shown]


def csv_text(table: Table) -> str:
    """The table as CSV: a header row of column labels, then the values as plain text (amounts with two
    decimals and no currency sign, dates in ISO 8601, nothing for a missing value). Text that a spreadsheet
    would take for a formula is neutralised (see _harmless)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_harmless(column.label) for column in table.columns)
    for row in table.rows:
        writer.writerow(_csv_value(row.get(column.key)) for column in table.columns)
    return out.getvalue()


# What starts a formula in Excel, LibreOffice or Google Sheets ("=HYPERLINK(...)", "+1+cmd|...", "@SUM(...)"),
# also after a tab or carriage return.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _harmless(text: str) -> str:
    """Text as a spreadsheet shows it, never runs it: a cell that would start a formula gets a leading
    apostrophe (OWASP's advice for CSV injection), which spreadsheets take as "this is text"."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, str):
        # Names, titles and codes are typed by customers and staff. Numbers are written as they are: a
        # negative amount is a number, not a formula.
        return _harmless(value)
    return str(value)


@dataclass(frozen=True)
class Dataset:
    label: str
    data: list[Decimal | int | None]
    color: str | None = None
    # A line drawn over bars, on the right-hand axis in `format` (e.g. a growth rate over revenue).
    line_format: str | None = None


@dataclass(frozen=True)
class Chart:
    """A Chart.js chart: `kind` bar or doughnut; `format` says how the values read (money, count, percent)."""

    id: str
    title: str
    kind: str
    labels: list[str]
    datasets: list[Dataset]
    format: str = "money"
    horizontal: bool = False
    stacked: bool = False
    colors: list[str] = field(default_factory=list)
    description: str = ""
    # The axis titles, with their units: the values' axis, the categories' axis, and the right-hand axis of a
    # line drawn over the bars.
    value_title: str = ""
    category_title: str = ""
    line_title: str = ""

    def spec(self) -> dict[str, Any]:
        """The JSON static/js/charts.js draws: numbers as plain numbers, missing ones as null."""
        return {
            "kind": self.kind,
            "format": self.format,
            "horizontal": self.horizontal,
            "stacked": self.stacked,
            "labels": self.labels,
            "colors": self.colors,
            "valueTitle": self.value_title,
            "categoryTitle": self.category_title,
            "lineTitle": self.line_title,
            "datasets": [{"label": d.label, "data": [_number(v) for v in d.data], "color": d.color,
                          "lineFormat": d.line_format} for d in self.datasets],
        }

    @property
    def empty(self) -> bool:
        return not any(value for dataset in self.datasets for value in dataset.data)


def _number(value: Decimal | int | None) -> float | int | None:
    return float(value) if isinstance(value, Decimal) else value
