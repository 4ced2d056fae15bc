"""The customer API takes only what it declares: unknown fields, address lists and line
breaks in single-line fields are refused, naming the field, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import func, select

from core.db.engine import Database
from core.pii.models import Customer
from tests.canaries import CUSTOMER_A
from tests.conftest import World


async def customers(db: Database, world: World) -> int:
    async with db.session(world.a) as session:
        return int((await session.exec(select(func.count()).select_from(Customer))).one())


@pytest.mark.parametrize(
    ("path", "body", "unknown"),
    [
        ("/", {"name": "山田 太郎", "customer": {"phone": "090-1111-2222"}}, "customer"),
        ("/search", {"phone": "090-7777-0123", "mail": "x@example.jp"}, "mail"),
        ("/{uid}/reveal", {"fields": ["phone"], "purpose": "callback", "reason": "x"}, "reason"),
        ("/{uid}/merge", {"into": "{uid}", "force": True}, "force"),
    ],
)
async def test_an_unknown_field_is_refused_with_its_name(
    app: Any, db: Database, world: World, path: str, body: dict[str, Any], unknown: str
) -> None:
    base = f"/api/v1/t/{world.a.slug}/customers"
    filled = {
        k: v.replace("{uid}", world.customer_a) if isinstance(v, str) else v
        for k, v in body.items()
    }
    refused = await app.post(
        base + path.replace("{uid}", world.customer_a),
        json=filled,
        headers=world.headers["a:supervisor"],
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == unknown
    assert await customers(db, world) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a@example.jp, b@example.jp, c@example.jp"),
        ("email", "a@example.jp;b@example.jp"),
        ("email", "鈴木 <a@example.jp>"),
        ("email", "a@example.jp\r\nBcc: b@example.jp"),
        ("email", "a@example"),
        ("name", "鈴木 カナリア\r\nBcc: b@example.jp"),
        ("name_kana", "スズキ\nカナリア"),
        ("phone", "090-1111-2222\r\n"),
    ],
)
async def test_lists_of_addresses_and_line_breaks_are_refused(
    app: Any, db: Database, world: World, field: str, value: str
) -> None:
    refused = await app.post(
        f"/api/v1/t/{world.a.slug}/customers/",
        json={field: value},
        headers=world.headers["a:operator"],
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["field"] == field and value not in refused.text
    assert await customers(db, world) == 1


async def test_one_address_in_any_width_and_a_note_over_lines_are_taken(
    app: Any, db: Database, world: World
) -> None:
    base = f"/api/v1/t/{world.a.slug}/customers"
    headers = world.headers["a:operator"]
    created = await app.post(
        f"{base}/",
        json={"email": "ｔａｒｏ．ｋｏｎｏ＠ｅｘａｍｐｌｅ．ｊｐ", "note": "一行目\n二行目"},
        headers=headers,
    )
    assert created.status_code == 201 and created.json()["email"] == "t***@example.jp"
    # an address as some Japanese carriers issued them, refused by strict RFC checks
    legacy = await app.post(f"{base}/", json={"email": "taro..x.@docomo.ne.jp"}, headers=headers)
    assert legacy.status_code == 201
    found = await app.post(
        f"{base}/search", json={"email": "taro.kono@example.jp"}, headers=headers
    )
    assert [c["uid"] for c in found.json()] == [created.json()["uid"]]
    assert await customers(db, world) == 3
    assert CUSTOMER_A["email"] not in created.text
