"""Seeded personal values. Any of them found in plaintext in a database file, its WAL or the
captured logs after the suite fails the run (see ``tests/conftest.py``)."""

from __future__ import annotations

CUSTOMER_A = {
    "name": "鈴木 カナリア",
    "name_kana": "スズキ カナリア",
    "phone": "090-7777-0123",
    "email": "kanaria.suzuki@example.jp",
    "address": "東京都千代田区鳴鳥町1-2-3",
    "birth_date": "1980-04-01",
    "note": "鳴鳥町の裏口から配達してほしいとのこと",
}

CUSTOMER_B = {
    "name": "佐藤 ヒバリ",
    "name_kana": "サトウ ヒバリ",
    "phone": "080-6666-0456",
    "email": "hibari.sato@example.jp",
    "address": "大阪府大阪市雲雀区4-5-6",
    "birth_date": "1975-12-24",
    "note": "雲雀区の件は上長に確認済み",
}


def canary_strings() -> list[str]:
    values: list[str] = []
    for customer in (CUSTOMER_A, CUSTOMER_B):
        for value in customer.values():
            values.append(value)
            digits = value.replace("-", "")
            if digits.isdigit():
                values.append(digits)
    return values
