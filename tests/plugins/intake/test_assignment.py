"""An inquiry is assigned only to someone who works the tenant's queues."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.db.engine import Database
from core.identity.models import User
from plugins.intake.models import Inquiry
from tests.conftest import make_tenant, make_token
from tests.core.web.test_pages import sign_in, with_password
from tests.plugins.intake.conftest import BODY

URL = "/api/v1/t/honey/inquiries"


async def _user_id(db: Database, email: str) -> int:
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == email))).one()
    assert user.id is not None
    return user.id


async def test_assignee_must_work_this_tenants_queues(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    await make_token(db, "viewer@honey.example.jp", ("client_viewer", "honey"))
    await make_tenant(db, desk[0].app.state.core.host, "other-desk", {"intake": {}})
    await make_token(db, "op@other.example.jp", ("operator", "other-desk"))
    await make_token(db, "admin@bpo.example.jp", ("platform_admin", None))
    uid = (await client.post(URL, json=BODY, headers=headers["op1"])).json()["uid"]
    out_of_range = await client.patch(
        f"{URL}/{uid}", json={"assignee_id": 10**30}, headers=headers["sv"]
    )  # the document's range (PostgreSQL's INTEGER) refuses it before anything is looked up
    assert out_of_range.status_code == 400, out_of_range.text
    assert out_of_range.json()["error"]["field"] == "assignee_id"
    refused = {
        "no such user": 987_654,
        "a client viewer": await _user_id(db, "viewer@honey.example.jp"),
        "an operator of another client": await _user_id(db, "op@other.example.jp"),
        "a platform admin": await _user_id(db, "admin@bpo.example.jp"),
    }
    for who, user_id in refused.items():
        answer = await client.patch(
            f"{URL}/{uid}", json={"assignee_id": user_id}, headers=headers["sv"]
        )
        assert answer.status_code == 422, (who, answer.text)
        assert answer.json()["error"]["field"] == "assignee_id"
    operator = await _user_id(db, "op2@bpo.example.jp")
    assigned = await client.patch(
        f"{URL}/{uid}", json={"assignee_id": operator}, headers=headers["sv"]
    )
    assert assigned.status_code == 200 and assigned.json()["assignee_id"] == operator
    # the page's form is held to the same rule
    csrf = await _signed_in(client, db, "sv@bpo.example.jp")
    page = await client.post(
        f"/t/honey/inquiries/{uid}/update",
        data={"_csrf": csrf, "assignee": str(refused["a client viewer"])},
        follow_redirects=False,
    )
    assert page.status_code == 422
    async with db.session(ctx) as session:
        stored = (await session.exec(select(Inquiry).where(Inquiry.uid == uid))).one()
    assert stored.assignee_id == operator


async def _signed_in(client: Any, db: Database, email: str) -> str:
    await with_password(db, email)
    return await sign_in(client, email)
