"""The CSV cell guard every export uses."""

from __future__ import annotations

import csv
import io

from core.csv_cells import safe_cell, safe_row


def test_cells_a_spreadsheet_reads_as_formulas_get_an_apostrophe() -> None:
    for text in ("=1+1", "+81", "-5", "@A1", "\t=1", "\r=1", "＝1", "＋1", "－1", "＠A1"):
        assert safe_cell(text) == "'" + text


def test_other_cells_and_numbers_are_left_alone() -> None:
    for text in ("", "問い合わせ対応", "090-1234-5678", " =1", "a=b", "'quoted"):
        assert safe_cell(text) == text
    assert safe_row([-5, 2.5, None, "=x"]) == [-5, 2.5, None, "'=x"]


def test_a_written_row_reads_back_as_text() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(safe_row(['=HYPERLINK("http://x")', "ok", 3]))
    [row] = list(csv.reader(io.StringIO(out.getvalue())))
    assert row == ['\'=HYPERLINK("http://x")', "ok", "3"]
