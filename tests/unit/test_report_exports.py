"""Report files open safely in a spreadsheet: buyer-typed text never becomes a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from recur.http.export import to_csv, to_xlsx

HYPERLINK = '=HYPERLINK("http://x","y")'
OWASP_FORMULA_TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]  # the requirement (OWASP CSV injection), stated here on purpose
HEADER = ["buyer.name", "amount.amount"]


def row(name: str, amount: int = 4990) -> dict[str, Any]:
    return {"buyer": {"name": name}, "amount": {"amount": amount}}


def csv_rows(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(items, HEADER).decode())))


def xlsx_cells(items: list[dict[str, Any]]) -> list[Any]:
    sheet = load_workbook(io.BytesIO(to_xlsx(items, HEADER, "sales-report"))).active
    return [cells for cells in sheet.iter_rows(min_row=2)]


@pytest.mark.parametrize("trigger", OWASP_FORMULA_TRIGGERS)
def test_a_csv_cell_starting_like_a_formula_is_prefixed_with_an_apostrophe(trigger: str) -> None:
    name = f"{trigger}cmd|' /C calc'!A0"
    assert csv_rows([row(name)])[0]["buyer.name"] == "'" + name


def test_a_buyer_named_like_a_hyperlink_formula_is_plain_text_in_xlsx() -> None:
    name_cell, amount_cell = xlsx_cells([row(HYPERLINK)])[0]
    assert name_cell.data_type == "s"  # "f" would be a live formula
    assert name_cell.value == "'" + HYPERLINK
    assert amount_cell.data_type == "n" and amount_cell.value == 4990


def test_a_control_character_cannot_hide_a_formula_in_xlsx() -> None:
    name_cell, _ = xlsx_cells([row("\x01" + HYPERLINK)])[0]
    assert name_cell.data_type == "s" and name_cell.value == "'" + HYPERLINK


def test_ordinary_text_and_negative_numbers_are_left_as_they_are() -> None:
    items = [row("Bia Souza", -100)]
    assert csv_rows(items)[0] == {"buyer.name": "Bia Souza", "amount.amount": "-100"}
    name_cell, amount_cell = xlsx_cells(items)[0]
    assert (name_cell.value, amount_cell.value, amount_cell.data_type) == ("Bia Souza", -100, "n")
