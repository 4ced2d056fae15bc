"""The web form follows the tenant's intake settings: its fields, the required ones, the kinds
of inquiry; a manifest naming an unknown field is refused."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from core.app import create_app
from core.crypto.keyfiles import load_or_create_key
from core.db.engine import Database
from core.plugins.api import SettingsError
from core.plugins.host import PluginHost
from core.settings import Settings
from plugins.intake import MANIFEST
from plugins.intake.contact import form_token
from plugins.intake.models import Inquiry
from tests.conftest import make_tenant

FORM = {
    "channels": ["web"],
    "contact_fields": ["name", "phone"],
    "contact_required": ["name", "phone"],
    "contact_categories": ["事故の連絡", "契約内容の変更"],
}


@pytest.fixture
async def insurer(settings: Settings, db: Database, host: PluginHost) -> Any:
    ctx = await make_tenant(db, host, "kaede-sonpo", {"intake": {"settings": FORM}})
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        yield client, ctx


async def test_the_form_shows_and_checks_what_the_tenant_configured(
    insurer: Any, settings: Settings, db: Database
) -> None:
    client, ctx = insurer
    form = await client.get("/t/kaede-sonpo/contact")
    contact = re.search(r'<form[^>]*action="/t/kaede-sonpo/contact".*?</form>', form.text, re.S)
    assert contact is not None
    names = set(re.findall(r'<(?:input|select|textarea)[^>]* name="([a-z_]+)"', contact.group(0)))
    assert names == {"token", "website", "name", "phone", "category", "body"}
    assert "事故の連絡" in form.text and "メールアドレス" not in form.text
    key = load_or_create_key(
        settings.var_dir / "keys" / "plugin-intake-form.key", env="MADOGUCHI_INTAKE_FORM_KEY"
    )
    token = form_token(key, "kaede-sonpo", int(time.time()) - 30)
    base = {"token": token, "name": "楓 次郎", "body": "車をぶつけてしまいました。"}
    no_phone = await client.post("/t/kaede-sonpo/contact", data={**base, "category": "事故の連絡"})
    assert no_phone.status_code == 422 and 'name="phone"' in no_phone.text
    no_kind = await client.post("/t/kaede-sonpo/contact", data={**base, "phone": "090-5555-6666"})
    assert no_kind.status_code == 422 and "お問い合わせの種類" in no_kind.text
    done = await client.post(
        "/t/kaede-sonpo/contact",
        data={
            **base,
            "phone": "０９０-５５５５-６６６６",
            "category": "事故の連絡",
            "email": "x@y",
        },
    )
    assert done.status_code == 200, done.text
    async with db.session(ctx) as session:
        [inquiry] = (await session.exec(select(Inquiry))).all()
    assert inquiry.category == "事故の連絡"


def test_a_form_field_the_plugin_does_not_know_is_refused_naming_it() -> None:
    with pytest.raises(SettingsError) as refused:
        MANIFEST.validate_settings({"contact_fields": ["name", "fax"]})
    assert refused.value.field == "contact_fields" and "fax" in refused.value.message
