"""The admin tenant API: the same operations and validation as manifests."""

from __future__ import annotations

from typing import Any

from core.db.engine import Database
from tests.conftest import make_tenant, make_token

NEW = {
    "slug": "kaede-denki",
    "display_name": "かえで電機株式会社",
    "display_name_en": "Kaede Electric",
    "color": "#0055AA",
    "plugins": {"intake": {"settings": {"channels": ["web", "chat"]}}},
    "roles": {"client_viewer": ["plugin:list", "intake:configure"]},
}


async def admin_headers(db: Database) -> dict[str, str]:
    return await make_token(db, "admin@example.jp", ("platform_admin", None))


async def test_admin_creates_lists_shows_and_patches_a_tenant(app: Any, db: Database) -> None:
    headers = await admin_headers(db)
    created = await app.post("/api/v1/admin/tenants", json=NEW, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tenant"]["slug"] == "kaede-denki"
    assert body["tenant"]["color"] == "#0055aa"
    assert body["tenant"]["plugins"][0]["settings"]["channels"] == ["web", "chat"]
    assert body["tenant"]["plugins"][0]["settings"]["first_response_minutes"] == 60  # default
    assert "tenant created" in body["changes"]

    listed = await app.get("/api/v1/admin/tenants", headers=headers)
    assert [t["slug"] for t in listed.json()] == ["kaede-denki"]

    patched = await app.patch(
        "/api/v1/admin/tenants/kaede-denki",
        json={
            "display_name": "かえで電機",
            "plugins": {"voc": {"enabled": True}, "intake": {"settings": {"resolution_hours": 24}}},
        },
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    tenant = patched.json()["tenant"]
    assert tenant["display_name"] == "かえで電機"
    plugins = {p["id"]: p for p in tenant["plugins"]}
    assert plugins["voc"]["enabled"] is True
    assert plugins["intake"]["settings"]["resolution_hours"] == 24
    assert plugins["intake"]["settings"]["channels"] == ["web", "chat"]  # kept

    again = await app.patch(
        "/api/v1/admin/tenants/kaede-denki", json={"display_name": "かえで電機"}, headers=headers
    )
    assert again.json()["changes"] == []

    shown = await app.get("/api/v1/admin/tenants/kaede-denki", headers=headers)
    assert shown.json()["display_name"] == "かえで電機"


async def test_invalid_tenant_is_refused_with_the_field_and_nothing_stored(
    app: Any, db: Database
) -> None:
    headers = await admin_headers(db)
    # 400: what the API document states (a pattern, a required field); 422: an undeclared
    # field, or what only the manifest can check (the plugins there are, their settings)
    cases = [
        ({**NEW, "slug": "Bad Slug"}, 400, "slug"),
        ({**NEW, "color": "red"}, 400, "color"),
        ({**NEW, "plugins": {"nosuch": {}}}, 422, "plugins.nosuch"),
        (
            {**NEW, "plugins": {"intake": {"settings": {"channels": "web"}}}},
            422,
            "plugins.intake.settings.channels",
        ),
        ({**NEW, "roles": {"operator": ["tenant:fly"]}}, 422, "roles.operator"),
        ({**NEW, "surprise": 1}, 422, "surprise"),
        ({k: v for k, v in NEW.items() if k != "display_name"}, 400, "display_name"),
    ]
    for body, status, field in cases:
        response = await app.post("/api/v1/admin/tenants", json=body, headers=headers)
        assert response.status_code == status, (field, response.text)
        assert response.json()["error"]["field"] == field
    listed = await app.get("/api/v1/admin/tenants", headers=headers)
    assert listed.json() == []


async def test_malformed_and_conflicting_requests(app: Any, db: Database) -> None:
    headers = await admin_headers(db)
    broken = await app.post(
        "/api/v1/admin/tenants",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "bad_request"
    not_object = await app.post("/api/v1/admin/tenants", json=[1, 2], headers=headers)
    assert not_object.status_code == 400
    assert (await app.post("/api/v1/admin/tenants", json=NEW, headers=headers)).status_code == 201
    duplicate = await app.post("/api/v1/admin/tenants", json=NEW, headers=headers)
    assert duplicate.status_code == 409
    rename = await app.patch(
        "/api/v1/admin/tenants/kaede-denki", json={"slug": "other"}, headers=headers
    )
    assert rename.status_code == 422
    missing = await app.get("/api/v1/admin/tenants/nosuch", headers=headers)
    assert missing.status_code == 404
    huge = await app.post(
        "/api/v1/admin/tenants",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={**headers, "content-type": "application/json"},
    )
    assert huge.status_code == 413


async def test_only_platform_admin_may_manage_tenants(app: Any, db: Database, host: Any) -> None:
    await make_tenant(db, host, "own", {"intake": {}})
    operator = await make_token(db, "op@example.jp", ("operator", "own"))
    officer = await make_token(db, "sec@example.jp", ("security_officer", None))
    assert (await app.get("/api/v1/admin/tenants")).status_code == 401
    bad = {"Authorization": "Bearer mdg_not-a-real-token"}
    assert (await app.get("/api/v1/admin/tenants", headers=bad)).status_code == 401
    assert (await app.get("/api/v1/admin/tenants", headers=operator)).status_code == 403
    assert (await app.post("/api/v1/admin/tenants", json=NEW, headers=operator)).status_code == 403
    assert (await app.get("/api/v1/admin/tenants", headers=officer)).status_code == 200
    assert (await app.post("/api/v1/admin/tenants", json=NEW, headers=officer)).status_code == 403


async def test_tenant_routes_404_for_strangers_and_disabled_plugins(
    app: Any, db: Database, host: Any
) -> None:
    await make_tenant(db, host, "alpha", {"intake": {}, "hotline": {"enabled": False}})
    await make_tenant(db, host, "beta", {"hotline": {}})
    alpha_op = await make_token(db, "a@example.jp", ("operator", "alpha"))
    ok = await app.get("/api/v1/t/alpha/intake/channels", headers=alpha_op)
    assert ok.status_code == 200 and ok.json()["channels"] == ["web", "email"]
    for path in ("/api/v1/t/beta/hotline", "/api/v1/t/beta/plugins", "/api/v1/t/nosuch/plugins"):
        response = await app.get(path, headers=alpha_op)
        assert response.status_code == 404, path
    assert (
        await app.get("/api/v1/t/alpha/hotline", headers=alpha_op)
    ).status_code == 404  # disabled
    admin = await admin_headers(db)
    # a platform admin is no member of a tenant: tenant data stays out of reach
    assert (await app.get("/api/v1/t/alpha/plugins", headers=admin)).status_code == 404


async def test_token_bound_to_one_tenant_cannot_act_in_another(
    app: Any, db: Database, host: Any
) -> None:
    await make_tenant(db, host, "one", {"intake": {}})
    await make_tenant(db, host, "two", {"intake": {}})
    headers = await make_token(
        db, "both@example.jp", ("operator", "one"), ("operator", "two"), token_tenant="one"
    )
    assert (await app.get("/api/v1/t/one/plugins", headers=headers)).status_code == 200
    assert (await app.get("/api/v1/t/two/plugins", headers=headers)).status_code == 404


async def test_disabling_a_plugin_takes_effect_at_once(app: Any, db: Database, host: Any) -> None:
    await make_tenant(db, host, "gamma", {"hotline": {}})
    headers = await make_token(db, "g@example.jp", ("operator", "gamma"))
    assert (await app.get("/api/v1/t/gamma/hotline", headers=headers)).status_code == 200
    await make_tenant(db, host, "gamma", {"hotline": {"enabled": False}})
    assert (await app.get("/api/v1/t/gamma/hotline", headers=headers)).status_code == 404
