"""Request bodies refuse fields they do not declare (core.web.schemas.StrictBody)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.db.engine import Database
from core.identity.models import LoginSession
from tests.core.identity.test_sign_in import PASSWORD, make_user


async def test_an_unknown_field_in_the_login_body_is_refused_with_its_name(
    app: Any, db: Database
) -> None:
    await make_user(db, "op@example.jp")
    body = {"email": "op@example.jp", "password": PASSWORD, "remember_me": True}
    refused = await app.post("/api/v1/auth/login", json=body)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "unknown_field" and error["field"] == "remember_me"
    async with db.session() as session:
        assert (await session.exec(select(LoginSession))).all() == []
    del body["remember_me"]
    assert (await app.post("/api/v1/auth/login", json=body)).status_code == 200
