"""Report rows as JSON, CSV or XLSX. Nested fields become dotted columns in CSV and XLSX."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def flatten(item: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def columns_of(items: list[dict[str, Any]], header: list[str]) -> list[str]:
    return header if not items else list(flatten(items[0]))


def to_csv(items: list[dict[str, Any]], header: list[str]) -> bytes:
    out = io.StringIO()
    columns = columns_of(items, header)
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        writer.writerow(flatten(item))
    return out.getvalue().encode()


def to_xlsx(items: list[dict[str, Any]], header: list[str], title: str) -> bytes:
    from openpyxl import Workbook  # a maintained library for real .xlsx files

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    columns = columns_of(items, header)
    sheet.append(columns)
    for item in items:
        flat = flatten(item)
        sheet.append([flat.get(c) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_response(items: list[dict[str, Any]], header: list[str], fmt: str, name: str) -> Response:
    body = to_csv(items, header) if fmt == "csv" else to_xlsx(items, header, name)
    return Response(body, mimetype=CONTENT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
