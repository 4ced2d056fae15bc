"""What intake takes in: one e-mail address per field, no line break in anything that may
become a mail header, and no field it does not know (a dropped field is lost data)."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import select

from core.crypto.keyfiles import load_or_create_key
from core.db.engine import Database
from core.jobs.models import Job
from core.settings import Settings
from plugins.intake.contact import form_token
from plugins.intake.models import Inquiry
from tests.plugins.intake.conftest import BODY

URL = "/api/v1/t/honey/inquiries"
LIST = "taro@example.jp, jiro@example.jp, saburo@example.jp"


def _contact(settings: Settings, **fields: str) -> dict[str, str]:
    key = load_or_create_key(
        settings.var_dir / "keys" / "plugin-intake-form.key", env="MADOGUCHI_INTAKE_FORM_KEY"
    )
    token = form_token(key, "honey", int(time.time()) - 30)
    return {"token": token, "name": "山田 太郎", "body": "問い合わせです", **fields}


async def _stored(db: Database, ctx: Any) -> tuple[int, int]:
    async with db.session(ctx) as session:
        inquiries = len((await session.exec(select(Inquiry))).all())
        mails = len(
            (await session.exec(select(Job).where(Job.kind == "intake.send_receipt"))).all()
        )
    return inquiries, mails


async def test_an_email_field_takes_exactly_one_address(
    desk: Any, db: Database, settings: Settings, monkeypatch: Any
) -> None:
    client, headers, _, ctx = desk
    monkeypatch.setenv("MADOGUCHI_SMTP_RELAY", "127.0.0.1:25")  # receipts would be queued
    for value in (LIST, "山田 <taro@example.jp>", "taro@example.jp\r\nBcc: x@spam.example"):
        api = await client.post(URL, json={**BODY, "email": value}, headers=headers["op1"])
        assert api.status_code == 422 and api.json()["error"]["field"] == "email", value
        form = await client.post("/t/honey/contact", data=_contact(settings, email=value))
        assert form.status_code == 422 and 'name="email"' in form.text, value
    call = await client.post(
        "/api/v1/t/honey/calls",
        json={"call_id": "c-1", "started_at": "2026-12-01T10:00:00+09:00", "operator": LIST},
        headers=headers["sv"],
    )
    assert call.status_code == 422 and call.json()["error"]["field"] == "operator"
    assert await _stored(db, ctx) == (0, 0)
    # one address, in any width, is taken and gets one receipt
    form = await client.post(
        "/t/honey/contact", data=_contact(settings, email="ｔａｒｏ＠example.jp")
    )
    assert form.status_code == 200, form.text
    assert await _stored(db, ctx) == (1, 1)


async def test_header_values_with_a_line_break_are_refused(
    desk: Any, db: Database, settings: Settings
) -> None:
    client, headers, _, ctx = desk
    for field in ("subject", "name", "name_kana"):
        for value in ("件名\r\nBcc: x@spam.example", "一行目\n二行目", "件名\u2028続き"):
            api = await client.post(URL, json={**BODY, field: value}, headers=headers["op1"])
            assert api.status_code == 422 and api.json()["error"]["field"] == field
    form = await client.post(
        "/t/honey/contact", data=_contact(settings, subject="件名\r\nBcc: x@spam.example")
    )
    assert form.status_code == 422 and 'name="subject"' in form.text
    multi_line = await client.post(  # the message itself may have lines, of course
        URL, json={**BODY, "body": "一行目\r\n二行目"}, headers=headers["op1"]
    )
    assert multi_line.status_code == 201
    assert (await _stored(db, ctx))[0] == 1


async def test_unknown_fields_are_refused_naming_them(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    nested = {
        "channel": "web",
        "body": "顧客情報つきの問い合わせ",
        "customer": {"name": "山田 太郎", "phone": "09011112222"},
    }
    refused = await client.post(URL, json=nested, headers=headers["op1"])
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "customer"
    assert await _stored(db, ctx) == (0, 0)
    uid = (await client.post(URL, json=BODY, headers=headers["op1"])).json()["uid"]
    cases = [
        ("patch", f"{URL}/{uid}", {"status": "open", "assignee": 3}, "assignee"),
        ("post", f"{URL}/{uid}/messages", {"kind": "reply", "body": "x", "to": "a@b.jp"}, "to"),
        ("put", "/api/v1/t/honey/intake/queues/extra", {"name": "追加", "color": "red"}, "color"),
        (
            "post",
            "/api/v1/t/honey/calls",
            {"call_id": "c-2", "started_at": "2026-12-01T10:00:00+09:00", "memo2": "x"},
            "memo2",
        ),
    ]
    for method, url, body, field in cases:
        answer = await getattr(client, method)(url, json=body, headers=headers["sv"])
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["error"]["field"] == field
    detail = (await client.get(f"{URL}/{uid}", headers=headers["op1"])).json()
    assert detail["status"] == "new" and len(detail["messages"]) == 1
