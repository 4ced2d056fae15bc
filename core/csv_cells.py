"""CSV cells a spreadsheet will not run as formulas (CSV injection, OWASP).

A cell that begins with ``=``, ``+``, ``-`` or ``@`` is a formula to Excel and LibreOffice
(``=HYPERLINK(...)`` in an operator's purpose or a customer's message would run on the client's
machine); a leading tab or carriage return hides such a start. Those cells get a leading
apostrophe, which a spreadsheet shows as text and a reader recognises. The full-width forms
(``＝＋－＠``), common in Japanese text, get one too, to be safe: a spreadsheet that folds
characters to their narrow forms would read them as the ones above.
Numbers written as numbers (``int``, ``float``) are left alone: they cannot hold a formula.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FORMULA_STARTS", "safe_cell", "safe_row"]

FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")


def safe_cell(value: str) -> str:
    """``value``, with an apostrophe in front if a spreadsheet would read it as a formula."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def safe_row(values: Iterable[object]) -> list[object]:
    """A row for :func:`csv.writer`: every text cell through :func:`safe_cell`, numbers and
    other values unchanged (``None`` stays an empty cell)."""
    return [safe_cell(v) if isinstance(v, str) else v for v in values]
