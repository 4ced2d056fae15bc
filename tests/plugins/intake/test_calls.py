"""Phone call records by webhook and CSV import."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.db.engine import Database
from plugins.intake.models import CallRecord, Inquiry, InquiryMessage

CALL = {
    "call_id": "pbx-0001",
    "caller_number": "03-1234-5678",
    "queue": "代表",
    "started_at": "2026-11-20T10:00:00+09:00",
    "ended_at": "2026-11-20T10:04:30+09:00",
    "outcome": "answered",
    "operator": "op1@bpo.example.jp",
    "memo": "配送日の確認",
}


async def test_webhook_creates_then_joins_and_ignores_resends(desk: Any, db: Database) -> None:
    client, headers, listener, ctx = desk
    url = "/api/v1/t/honey/calls"
    first = await client.post(url, json=CALL, headers=headers["sv"])
    assert first.status_code == 201 and first.json()["created"] is True
    resent = await client.post(url, json=CALL, headers=headers["sv"])
    assert resent.status_code == 200 and resent.json()["duplicate"] is True
    again = await client.post(
        url,
        json={
            **CALL,
            "call_id": "pbx-0002",
            "caller_number": "０３（１２３４）５６７８",
            "memo": "再度の問い合わせ",
        },
        headers=headers["sv"],
    )
    assert again.status_code == 201 and again.json()["created"] is False
    assert again.json()["inquiry_uid"] == first.json()["inquiry_uid"]
    async with db.session(ctx) as session:
        assert len((await session.exec(select(Inquiry))).all()) == 1
        assert len((await session.exec(select(InquiryMessage))).all()) == 2
        assert len((await session.exec(select(CallRecord))).all()) == 2
    assert [e for e in listener.events if e[0] == "created"] == [
        ("created", first.json()["inquiry_uid"])
    ]
    bad = await client.post(
        url, json={**CALL, "call_id": "pbx-3", "outcome": "lost"}, headers=headers["sv"]
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "outcome"
    assert (await client.post(url, json=CALL, headers=headers["op1"])).status_code == 403


async def test_csv_import_is_all_or_nothing_and_reads_shift_jis(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    url = "/api/v1/t/honey/calls/import"
    header = "call_id,caller_number,queue,started_at,ended_at,outcome,operator,memo\n"
    rows = [
        "c-1,090-1000-0001,代表,2026-11-21T09:00:00+09:00,,answered,op1@bpo.example.jp,請求の件\n",
        "c-2,090-1000-0002,代表,2026-11-21T09:05:00+09:00,,abandoned,,\n",
        "c-3,not-a-number,代表,2026-11-21T09:06:00+09:00,,answered,,\n",
    ]
    refused = await client.post(
        url,
        content=(header + "".join(rows)).encode(),
        headers={**headers["sv"], "content-type": "text/csv"},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "row 4: caller_number"
    async with db.session(ctx) as session:
        assert (await session.exec(select(CallRecord))).all() == []
    good = (header + "".join(rows[:2])).encode("cp932")
    done = await client.post(
        url, content=good, headers={**headers["sv"], "content-type": "text/csv"}
    )
    assert done.status_code == 200
    assert done.json() == {"rows": 2, "stored": 2, "duplicates": 0, "new_inquiries": 2}
    repeat = await client.post(
        url, content=good, headers={**headers["sv"], "content-type": "text/csv"}
    )
    assert repeat.json()["duplicates"] == 2
