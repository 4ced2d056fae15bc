"""Categories and tags come from the tenant's vocabularies, kept by supervisors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import col, select

from core.audit.models import AuditEvent
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.tenancy.manifest import load_manifests
from core.tenancy.service import apply_specs
from plugins.intake.models import Inquiry
from tests.conftest import make_tenant
from tests.core.web.test_pages import sign_in, with_password
from tests.plugins.intake.conftest import BODY

URL = "/api/v1/t/honey/inquiries"
VOCABULARY = "/api/v1/t/honey/intake/vocabulary"
SHIPPED = Path(__file__).resolve().parents[3] / "tenants"


async def _inquiries(db: Database, ctx: Any) -> list[tuple[str, list[str]]]:
    async with db.session(ctx) as session:
        rows = (await session.exec(select(Inquiry).order_by(col(Inquiry.id)))).all()
    return [(r.category, list(r.tags or [])) for r in rows]


async def test_an_inquiry_carries_only_labels_of_the_vocabulary(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    cases = [
        ({"category": "山田様の解約"}, "category", "山田様の解約"),
        ({"tags": ["定期便", "090-1111-2222"]}, "tags", "090-1111-2222"),
    ]
    for labels, field, named in cases:
        refused = await client.post(URL, json={**BODY, **labels}, headers=headers["op1"])
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == field and named in refused.text
    huge = await client.post(URL, json={**BODY, "tags": ["あ" * 500_000]}, headers=headers["op1"])
    assert huge.status_code in (400, 413, 422)
    assert await _inquiries(db, ctx) == []
    made = await client.post(
        URL, json={**BODY, "category": "解約", "tags": ["定期便", "至急"]}, headers=headers["op1"]
    )
    assert made.status_code == 201, made.text
    uid = made.json()["uid"]
    for change, field in (({"category": "自由記述"}, "category"), ({"tags": ["x"]}, "tags")):
        patched = await client.patch(f"{URL}/{uid}", json=change, headers=headers["op1"])
        assert patched.status_code == 422 and patched.json()["error"]["field"] == field
    patched = await client.patch(
        f"{URL}/{uid}", json={"category": "請求", "tags": ["至急"]}, headers=headers["op1"]
    )
    assert patched.status_code == 200 and patched.json()["category"] == "請求"
    assert await _inquiries(db, ctx) == [("請求", ["至急"])]
    # a term a supervisor adds counts from the next inquiry (the writer keeps the vocabulary)
    before = await client.post(URL, json={**BODY, "category": "ポイント"}, headers=headers["op1"])
    assert before.status_code == 422
    terms = (await client.get(VOCABULARY, headers=headers["op1"])).json()
    added = await client.put(
        f"{VOCABULARY}/categories",
        json={"labels": [*terms["categories"], "ポイント"]},
        headers=headers["sv"],
    )
    assert added.status_code == 200 and added.json()["added"] == ["ポイント"]
    after = await client.post(URL, json={**BODY, "category": "ポイント"}, headers=headers["op1"])
    assert after.status_code == 201, after.text


async def test_supervisors_keep_the_vocabulary_and_it_is_audited(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    terms = (await client.get(VOCABULARY, headers=headers["op1"])).json()
    assert "請求" in terms["categories"] and "定期便" in terms["tags"]
    refused = await client.put(f"{VOCABULARY}/tags", json={"labels": ["x"]}, headers=headers["op1"])
    assert refused.status_code == 403
    routed = await client.put(
        "/api/v1/t/honey/intake/queues/billing",
        json={"name": "請求", "categories": ["請求"]},
        headers=headers["sv"],
    )
    assert routed.status_code == 201
    unknown_route = await client.put(
        "/api/v1/t/honey/intake/queues/other",
        json={"name": "他", "categories": ["未登録の分類"]},
        headers=headers["sv"],
    )
    assert (
        unknown_route.status_code == 422 and unknown_route.json()["error"]["field"] == "categories"
    )
    for labels, reason in (
        ([c for c in terms["categories"] if c != "請求"], "請求"),  # a queue routes by it
        ([*terms["categories"], "改行\nあり"], f"labels.{len(terms['categories'])}"),
        ([*terms["categories"], "あ" * 65], "64"),
    ):
        answer = await client.put(
            f"{VOCABULARY}/categories", json={"labels": labels}, headers=headers["sv"]
        )
        assert answer.status_code in (400, 422) and reason in answer.text, answer.text
    long_tag = await client.put(
        f"{VOCABULARY}/tags", json={"labels": ["あ" * 33]}, headers=headers["sv"]
    )
    assert long_tag.status_code == 400, long_tag.text  # past the document's maxLength
    assert long_tag.json()["error"]["field"] == "labels.0"
    saved = await client.put(
        f"{VOCABULARY}/tags",
        json={"labels": ["至急", "要折り返し", "定期便"]},
        headers=headers["sv"],
    )
    assert saved.status_code == 200 and saved.json()["labels"] == ["至急", "要折り返し", "定期便"]
    async with db.session(ctx) as session:
        events = (
            await session.exec(
                select(AuditEvent.action, AuditEvent.object_id).where(
                    AuditEvent.action == "vocabulary.configure"
                )
            )
        ).all()
    assert events == [("vocabulary.configure", "tag")]
    # the supervisor's page, and an operator may not use it
    await with_password(db, "sv@bpo.example.jp")
    csrf = await sign_in(client, "sv@bpo.example.jp")
    shown = await client.get("/t/honey/vocabulary")
    assert shown.status_code == 200 and "要折り返し" in shown.text
    kept = await client.post(
        "/t/honey/vocabulary",
        data={"_csrf": csrf, "categories": "請求\n解約\n配送", "tags": "至急"},
        follow_redirects=False,
    )
    assert kept.status_code == 303
    terms = (await client.get(VOCABULARY, headers=headers["op1"])).json()
    assert terms == {"categories": ["請求", "解約", "配送"], "tags": ["至急"]}
    wrong = await client.post(
        "/t/honey/vocabulary", data={"_csrf": csrf, "categories": "解約", "tags": "新規"}
    )
    assert wrong.status_code == 422 and "請求" in wrong.text
    assert (await client.get(VOCABULARY, headers=headers["op1"])).json() == terms
    await with_password(db, "op1@bpo.example.jp")
    await sign_in(client, "op1@bpo.example.jp")
    assert (await client.get("/t/honey/vocabulary")).status_code == 403


async def test_new_tenants_start_with_a_japanese_vocabulary_holding_their_form_kinds(
    db: Database, host: PluginHost, app: Any
) -> None:
    from plugins.intake.vocabulary import DEFAULT_CATEGORIES, DEFAULT_TAGS
    from tests.conftest import make_token

    await make_tenant(
        db, host, "kaede", {"intake": {"settings": {"contact_categories": ["事故の連絡"]}}}
    )
    changes = await apply_specs(db, host, load_manifests(SHIPPED, host))  # the example tenants
    assert len(changes) == 3
    for slug, kinds in (("kaede", ["事故の連絡"]), ("sakura-sonpo", ["事故の連絡", "その他"])):
        headers = await make_token(db, f"op@{slug}.example.jp", ("operator", slug))
        terms = (await app.get(f"/api/v1/t/{slug}/intake/vocabulary", headers=headers)).json()
        assert set(DEFAULT_CATEGORIES) | set(kinds) <= set(terms["categories"])
        assert terms["tags"] == list(DEFAULT_TAGS)
