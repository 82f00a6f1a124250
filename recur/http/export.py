"""Report rows as JSON, CSV or XLSX. Nested fields become dotted columns in CSV and XLSX.

Text in a report comes from buyers (their names) and is opened by producers in a spreadsheet, which
runs a cell starting with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)` exfiltrates, DDE runs
commands). Such text cells are written with a leading `'`, as OWASP advises for CSV injection, in
both formats; numbers stay numbers. Control characters that an .xlsx file cannot hold are dropped
from XLSX cells, so one odd name cannot make the whole report fail.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX}
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses (IllegalCharacterError)


def neutralised(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, made plain text; any other value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def flatten(item: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def cells(item: dict[str, Any]) -> dict[str, Any]:
    """One row of a spreadsheet: flattened, with every text cell neutralised."""
    return {name: neutralised(value) for name, value in flatten(item).items()}


def columns_of(items: list[dict[str, Any]], header: list[str]) -> list[str]:
    return header if not items else list(flatten(items[0]))


def to_csv(items: list[dict[str, Any]], header: list[str]) -> bytes:
    out = io.StringIO()
    columns = columns_of(items, header)
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        writer.writerow(cells(item))
    return out.getvalue().encode()


def xlsx_value(value: Any) -> Any:
    """What an .xlsx cell can hold (control characters dropped first, so none can hide a leading `=`), neutralised."""
    return neutralised(NOT_IN_XLSX.sub("", value) if isinstance(value, str) else value)


def to_xlsx(items: list[dict[str, Any]], header: list[str], title: str) -> bytes:
    from openpyxl import Workbook  # a maintained library for real .xlsx files

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    columns = columns_of(items, header)
    sheet.append(columns)
    for item in items:
        row = flatten(item)
        sheet.append([xlsx_value(row.get(c)) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_content(items: list[dict[str, Any]], header: list[str], fmt: str, title: str) -> bytes:
    """The file's bytes: CSV, or XLSX with one sheet named `title`."""
    return to_csv(items, header) if fmt == "csv" else to_xlsx(items, header, title)


def file_response(content: bytes, content_type: str, filename: str) -> Response:
    return Response(content, content_type=content_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
