"""The OpenAPI document tells the truth: Schemathesis, in-process, over every operation of the
document, as every role of a tenant that exists, the platform's two roles and a caller with
no credentials, with every one of its checks.

A failure is anything a client built from the document would trip over: an answer whose
status, media type, headers or body the document does not give for that operation, a 5xx, an
undeclared method answered without ``Allow``, a request the document calls invalid that is
accepted, or one it calls valid that is refused.

Two passes keep it within a few minutes. The first sends a few generated requests to every
operation as every caller: what each role is answered (mostly the access gate's refusals,
which are the same whatever the data). The second runs Schemathesis's coverage phase (every
boundary and every kind of invalid value, one by one) once per operation, as a caller the
first pass saw get past the gate to the operation itself, since only then do the parameters
and the body decide the answer.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi as schemathesis_asgi
from sqlmodel import select

from core.app import create_app
from core.db.engine import Database
from core.identity.models import ApiToken, User
from core.identity.service import authenticate_token, create_token, hash_token
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import ROLES, World, make_tenant

# every role of tenant A (which has every plugin enabled), the platform's roles, and nobody
CALLERS: tuple[str | None, ...] = (
    *(f"a:{role}" for role in ROLES),
    "platform_admin",
    "security_officer",
    None,
)
SEED = 20261203  # the same requests on every run, so that a failure reproduces
FIRST_PASS_EXAMPLES = 2  # generated requests per operation, caller and mode (valid, invalid)
SECOND_PASS_EXAMPLES = 4  # besides the coverage phase's own
# Revoking a token by id revokes, sooner or later, one of the callers' own: those operations
# run last in each run, and the tokens they revoked are made again before the next run.
REVOKES = r".*/tokens/\{token_id\}/revoke$"
# Answers only a caller who got past the access gate receives; a 404 too, unless it is the
# gate's (no role in the tenant, a plugin it has not enabled) or the router's (a path that
# names no route, such as a token id that is not a number)
PAST_THE_GATE = {400, 409, 410, 422, 429, 503}
NOT_PAST_THE_GATE = {"No such tenant.", "This feature is not enabled for the tenant.", "Not Found"}
POSITIVE_ANSWERS = ["2xx", "3xx", "401", "403", "404", "409", "429"]  # Schemathesis's default

# Operations where a well-formed request may still be refused (422) for what is stored, or
# for a rule the document cannot state. For them the valid-data check also accepts 422; a
# request the document calls valid and validation refuses (400) still fails.
REFUSED_BY_DATA = {
    "POST /api/v1/admin/tenants": "each plugin checks its own settings (an inbound address "
    "another tenant holds), and a role's permissions must be ones the plugins add",
    "PATCH /api/v1/admin/tenants/{slug}": "as for creating one, and the slug must be the one "
    "in the path",
    "POST /api/v1/t/{tenant}/inquiries": "categories and tags come from the tenant's "
    "vocabulary, which supervisors keep",
    "PATCH /api/v1/t/{tenant}/inquiries/{uid}": "categories, tags and queues are the tenant's, "
    "and an assignee must work its queues",
    "PUT /api/v1/t/{tenant}/intake/queues/{slug}": "a queue routes by categories of the "
    "tenant's vocabulary",
    "PUT /api/v1/t/{tenant}/intake/vocabulary/categories": "a category a queue routes by or "
    "the web form offers stays",
    "POST /api/v1/t/{tenant}/calls": "ended_at must not be before started_at, which JSON "
    "Schema cannot compare",
    "POST /api/v1/t/{tenant}/calls/import": "the CSV text's rows are checked one by one",
}
# ... and where a well-formed request for an object that exists may find it used up
GONE = {
    "GET /api/v1/t/{tenant}/exports/{export_id}/download": "an approved export downloads once",
}


async def _real_objects(client: Any, world: World) -> dict[str, list[Any]]:
    """Objects of tenant A for the path parameters, drawn half of the time (the other half
    are generated, so a missing object is asked for too)."""
    a = world.a.slug
    inquiry = await client.post(
        f"/api/v1/t/{a}/inquiries",
        json={"channel": "web", "body": "スキーマ確認用のお問い合わせです"},
        headers=world.headers["a:operator"],
    )
    assert inquiry.status_code == 201, inquiry.text
    export = await client.post(
        f"/api/v1/t/{a}/exports",
        json={"kind": "customers", "purpose": "audit"},
        headers=world.headers["a:supervisor"],
    )
    assert export.status_code == 201, export.text
    bystander = f"candidate@{a}.example.jp"  # none of the callers: deciding changes no caller
    made = await client.post(
        "/api/v1/admin/users", json={"email": bystander}, headers=world.headers["platform_admin"]
    )
    assert made.status_code == 201, made.text
    asked = await client.post(
        "/api/v1/admin/grants",
        json={"email": bystander, "role": "operator", "tenant": a},
        headers=world.headers["platform_admin"],
    )
    assert asked.status_code == 201, asked.text
    return {
        "customer": [world.customer_a],
        "inquiry": [inquiry.json()["uid"]],
        "export": [export.json()["id"]],
        "request": [asked.json()["id"]],
    }


NOT_FROM_ANSWERS: dict[str, Any] = {"extra-data-sources": {"responses": False}}


def _config(
    world: World, caller: str | None, objects: dict[str, list[Any]], *, thorough: bool
) -> schemathesis.Config:
    def drawn(name: str) -> dict[str, Any]:
        return {"dictionary": name, "probability": 0.5}

    operations: list[dict[str, Any]] = [
        {
            "include-path-regex": r"/customers/\{uid\}",
            "parameters": {"path.uid": drawn("customer")},
        },
        {"include-path-regex": r"/inquiries/\{uid\}", "parameters": {"path.uid": drawn("inquiry")}},
        {"include-path-regex": r"\{export_id\}", "parameters": {"path.export_id": drawn("export")}},
        {
            "include-path-regex": r"\{request_id\}",
            "parameters": {"path.request_id": drawn("request")},
        },
        {  # always B: a change of tenant A (suspended, its roles' permissions) changes the test
            "include-path-regex": r"^/api/v1/admin/tenants/\{slug\}$",
            "parameters": {"path.slug": world.b.slug},
        },
        *(
            {
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*POSITIVE_ANSWERS, "422"]}
                },
            }
            for name in REFUSED_BY_DATA
        ),
        *(
            {
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*POSITIVE_ANSWERS, "410"]}
                },
            }
            for name in GONE
        ),
    ]
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": world.headers[caller] if caller else {},
            "dictionaries": {name: {"values": values} for name, values in objects.items()},
            "parameters": {"path.tenant": world.a.slug},
            "generation": {
                "max-examples": SECOND_PASS_EXAMPLES if thorough else FIRST_PASS_EXAMPLES,
                "database": "none",
            },
            # Values seen in answers are not sent back: they name the callers themselves (an
            # e-mail address to revoke a role of, a tenant to suspend), and the callers must
            # stay what they are for the whole test. Their objects are drawn as said above.
            "phases": {
                "examples": {"enabled": not thorough, **NOT_FROM_ANSWERS},
                "fuzzing": NOT_FROM_ANSWERS,
                # one undeclared method is enough to see a 405 and its Allow header
                "coverage": {
                    "enabled": thorough,
                    "unexpected-methods": ["trace"],
                    **NOT_FROM_ANSWERS,
                },
                "stateful": {"enabled": False},
            },
            "operations": operations,
        }
    )


class Run:
    """What one caller's requests found: failures, and the statuses each operation answered."""

    def __init__(self, caller: str | None) -> None:
        self.caller = caller
        self.failures: list[str] = []
        self.statuses: dict[str, set[int]] = defaultdict(set)
        self.past_the_gate: set[str] = set()  # operations that answered this caller themselves

    def record(self, event: events.ScenarioFinished) -> None:
        label = event.recorder.label
        for interaction in event.recorder.interactions.values():
            if (response := interaction.response) is not None:
                self.statuses[label].add(response.status_code)
                if _answered_by_the_operation(response.status_code, response.content):
                    self.past_the_gate.add(label)
        for checks in event.recorder.checks.values():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    self.failures.append(self._describe(label, check))

    def _describe(self, label: str, check: Any) -> str:
        failure = check.failure_info.failure
        sample = re.sub(r"Bearer [\w.-]+", "Bearer <token>", check.failure_info.code_sample)
        return (
            f"[{self.caller or 'anonymous'}] {label} {check.name}: {failure.title}\n"
            f"{failure.message}\n{sample}"
        )


def _run(app: Any, config: schemathesis.Config, run: Run, names: Iterable[str] | None) -> None:
    """The caller's requests to the operations ``names`` (all when None), the revocations
    of tokens last."""
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app, config=config)
    wanted = set(names) if names is not None else None
    # (``exclude`` by a function: ``include`` is overridden by the operations' own settings)
    schema = schema.exclude(func=lambda ctx: wanted is not None and _label(ctx) not in wanted)
    revoking = schema.exclude(func=lambda ctx: not re.fullmatch(REVOKES, ctx.operation.path))
    for part in (schema.exclude(path_regex=REVOKES), revoking):
        for event in from_schema(part).execute():
            if isinstance(event, events.ScenarioFinished):
                run.record(event)
            elif isinstance(event, events.NonFatalError | events.FatalError):
                run.failures.append(f"[{run.caller or 'anonymous'}] error: {event!r}")


def _label(ctx: Any) -> str:
    return f"{ctx.operation.method.upper()} {ctx.operation.path}"


async def _make_revoked_tokens_again(db: Database, world: World) -> None:
    """A caller's token revoked by a run is made again (as the server's console makes one)."""
    for key, headers in world.headers.items():
        token = headers["Authorization"].removeprefix("Bearer ")
        async with db.session() as session:
            if await authenticate_token(session, token) is not None:
                continue
            row = (
                await session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
            ).one()
            user = await session.get(User, row.user_id)
            assert user is not None
            world.headers[key] = {
                "Authorization": f"Bearer {await create_token(session, user.email)}"
            }


def _answered_by_the_operation(status: int, body: bytes) -> bool:
    if status < 300 or status in PAST_THE_GATE:
        return True
    if status != 404:
        return False
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return False
    return message not in NOT_PAST_THE_GATE


def _operations(document: dict[str, Any], *, public: bool = False) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if not public or not operation.get("security")
    }


def _public(document: dict[str, Any]) -> set[str]:
    return _operations(document, public=True)


async def test_every_operation_answers_as_the_document_says(
    app: Any, db: Database, host: PluginHost, settings: Settings, world: World
) -> None:
    every_plugin: dict[str, Any] = {plugin: {"enabled": True} for plugin in host.manifests}
    every_plugin["intake"] = {
        "enabled": True,
        "settings": {"channels": ["web", "email", "chat", "phone"], "identity_verification": True},
    }
    await make_tenant(db, host, world.a.slug, every_plugin, display_name="アルファ商事")
    objects = await _real_objects(app, world)
    document = (await app.get("/schema/openapi.json")).json()
    public = _public(document)
    tested = create_app(settings, host=host)
    first: list[Run] = []
    second: list[Run] = []
    try:
        for caller in CALLERS:  # every caller, every operation, a few requests each
            run = Run(caller)
            config = _config(world, caller, objects, thorough=False)
            await asyncio.to_thread(_run, tested, config, run, None)
            await _make_revoked_tokens_again(db, world)
            first.append(run)
        operations = {label for run in first for label in run.statuses}
        chosen: dict[str | None, set[str]] = defaultdict(set)
        for label in sorted(operations):  # each operation once, as one who gets past the gate
            past = [run.caller for run in first if label in public or label in run.past_the_gate]
            assert past, f"no caller got past the access gate to {label}"
            chosen[past[0]].add(label)
        for caller, labels in chosen.items():
            run = Run(caller)
            config = _config(world, caller, objects, thorough=True)
            await asyncio.to_thread(_run, tested, config, run, labels)
            await _make_revoked_tokens_again(db, world)
            second.append(run)
    finally:
        schemathesis_asgi.shutdown_lifespans()  # the app's lifespan ran in Schemathesis's loop
    assert operations == _operations(document)  # every operation, each caller (below)
    assert len(operations) >= 60 and all(run.statuses.keys() == operations for run in first)
    # the thorough pass reached each operation itself (the choice of callers above holds)
    reached = {label for run in second for label in run.past_the_gate}
    assert operations - public - reached == set()
    failures = [failure for run in (*first, *second) for failure in run.failures]
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:30])
