"""Every tenant operation in the OpenAPI document x every role of tenant A x tenant B's real
objects: zero successes, and none of B's personal values in any answer. A new route is in the
matrix the moment it is in the document."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.audit.models import AuditEvent
from core.db.engine import Database
from tests.canaries import CUSTOMER_B
from tests.conftest import ROLES, World

SAMPLE_TEXT = "確認のための閲覧です"
# A customer's side of a chat is public (the chat token is the credential); anyone may start
# a conversation. They still must not show B's data, which the leak check covers.
PUBLIC_OPERATIONS = {
    ("POST", "/api/v1/t/{tenant}/chat/conversations"),
    ("POST", "/api/v1/t/{tenant}/chat/messages"),
    ("GET", "/api/v1/t/{tenant}/chat/messages"),
}


def _example(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    if "$ref" in schema:
        return _example(components[schema["$ref"].split("/")[-1]], components, depth)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], components, depth) if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        return {
            name: _example(sub, components, depth + 1)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        item = schema.get("items", {})
        return ["name"] if item.get("type") == "string" else [_example(item, components, depth + 1)]
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    if kind == "string":
        return SAMPLE_TEXT
    return SAMPLE_TEXT


def _body(operation: dict[str, Any], components: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return None
    body = _example(schema, components)
    if isinstance(body, dict) and "kind" in body:
        body["kind"] = "customers"
    return body


async def test_no_role_of_one_tenant_succeeds_against_another(
    app: Any, db: Database, world: World
) -> None:
    created = await app.post(
        f"/api/v1/t/{world.b.slug}/exports",
        json={"kind": "customers", "purpose": "audit"},
        headers=world.headers["b:supervisor"],
    )
    assert created.status_code == 201
    export_b = created.json()["id"]
    asked = await app.post(  # a request that concerns tenant B, awaiting B's approval
        "/api/v1/admin/grants",
        json={
            "email": f"client_viewer@{world.b.slug}.example.jp",
            "role": "operator",
            "tenant": world.b.slug,
        },
        headers=world.headers["platform_admin"],
    )
    assert asked.status_code == 201, asked.text
    document = (await app.get("/schema/openapi.json")).json()
    components = document.get("components", {}).get("schemas", {})
    ids = {
        "{tenant}": world.b.slug,
        "{uid}": world.customer_b,
        "{export_id}": str(export_b),
        "{slug}": "general",  # a queue
        "{request_id}": str(asked.json()["id"]),
        "{kind}": "tags",  # an intake vocabulary
    }
    operations = [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        if "{tenant}" in path
        for method, op in item.items()
        if method != "options"
    ]
    assert len(operations) >= 15, "the matrix should cover every tenant route"
    callers = [f"a:{role}" for role in ROLES] + ["platform_admin"]
    successes, leaks, tried = [], [], 0
    for method, path, op in operations:
        url = path
        for placeholder, value in ids.items():
            url = url.replace(placeholder, value)
        assert "{" not in url, f"no real id for {path}: add it to the matrix"
        body = _body(op, components)
        for caller in [*callers, "security_officer"]:
            response = await app.request(
                method, url, headers=world.headers[caller], json=body if body is not None else None
            )
            tried += 1
            if (
                caller != "security_officer"
                and response.status_code < 400
                and (method, path) not in PUBLIC_OPERATIONS
            ):
                successes.append((caller, method, path, response.status_code))
            leaked = [v for v in CUSTOMER_B.values() if v in response.text]
            if leaked:
                leaks.append((caller, method, path))
    assert tried >= len(operations) * 6
    assert successes == []
    assert leaks == []
    # every attempt by a stranger is in tenant B's own audit chain, for B to see
    async with db.session(world.b) as session:
        denied = (
            await session.exec(
                select(AuditEvent).where(
                    AuditEvent.action == "access.denied", AuditEvent.outcome == "denied:no_role"
                )
            )
        ).all()
    assert len(denied) == (len(operations) - len(PUBLIC_OPERATIONS)) * len(callers)


async def test_members_do_reach_their_own_tenant(app: Any, world: World) -> None:
    """The matrix above means something only if the same calls work at home."""
    own = await app.get(
        f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}",
        headers=world.headers["a:operator"],
    )
    assert own.status_code == 200
    foreign = await app.get(
        f"/api/v1/t/{world.b.slug}/customers/{world.customer_b}",
        headers=world.headers["a:operator"],
    )
    assert foreign.status_code == 404
