"""Each client downloads its chain's signed checkpoints; checkpoints held outside the system
catch what the stored ones no longer can."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import select

from core.db.engine import Database
from core.settings import Settings
from tests.conftest import World
from tests.core.audit.cli import invoke
from tests.core.audit.tamper import Owner
from tests.core.web.test_pages import sign_in, with_password


def check_signatures(document: dict[str, Any]) -> int:
    """What a client does with nothing but the file: check every signature with the public
    key it holds (the recipe in docs/security.md). Returns how many were checked."""
    key = serialization.load_pem_public_key(document["public_key"].encode())
    assert isinstance(key, Ed25519PublicKey)
    checked = 0
    for chain in document["chains"]:
        for c in chain["checkpoints"]:
            signed = {
                "format": "madoguchi-audit-checkpoint/1",
                "chain": chain["chain"],
                "seq": c["seq"],
                "hash": c["hash"],
                "signed_at": c["signed_at"],
            }
            message = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
            key.verify(base64.b64decode(c["signature"]), message)  # raises if forged
            checked += 1
    return checked


async def sign_twice(db: Database, settings: Settings, app: Any, world: World) -> None:
    """Two checkpoints of each chain, with reads in between."""
    assert (await invoke(settings, "audit", "checkpoint")).exit_code == 0
    for slug, who in ((world.a.slug, "a:operator"), (world.b.slug, "b:operator")):
        customer = world.customer_a if slug == world.a.slug else world.customer_b
        read = await app.get(f"/api/v1/t/{slug}/customers/{customer}", headers=world.headers[who])
        assert read.status_code == 200
    assert (await invoke(settings, "audit", "checkpoint")).exit_code == 0


async def download(app: Any, world: World, tmp_path: Path) -> Path:
    answer = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/checkpoints", headers=world.headers["a:client_admin"]
    )
    assert answer.status_code == 200
    path = tmp_path / "downloaded.json"
    path.write_bytes(answer.content)
    return path


async def test_a_client_downloads_its_checkpoints_from_the_portal_and_checks_them_alone(
    app: Any, db: Database, settings: Settings, world: World
) -> None:
    await sign_twice(db, settings, app, world)
    viewer = f"client_viewer@{world.a.slug}.example.jp"
    await with_password(db, viewer)
    await sign_in(app, viewer)
    page = await app.get(f"/t/{world.a.slug}/portal/access-log")
    assert page.status_code == 200 and "署名付きチェックポイント" in page.text
    link = re.search(r'href="(/api/v1/t/[^"]+/audit/checkpoints)"', page.text)
    assert link is not None
    answer = await app.get(link.group(1))
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    document = answer.json()
    [chain] = document["chains"]
    assert (chain["chain"], chain["tenant"]) == (f"t:{world.a.id}", world.a.slug)
    # the two signed here (the app's own checkpointer may have added one of its own)
    assert len(chain["checkpoints"]) >= 2
    assert check_signatures(document) == len(chain["checkpoints"])
    # nothing of the other client's chain
    from core.audit.models import AuditCheckpoint

    async with db.session(world.b) as session:
        theirs = (await session.exec(select(AuditCheckpoint.hash))).all()
    assert len(theirs) >= 2 and not any(h in answer.text for h in theirs)
    foreign = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/checkpoints", headers=world.headers["b:client_admin"]
    )
    assert foreign.status_code == 404
    one = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/checkpoints?limit=1",
        headers=world.headers["a:client_admin"],
    )
    assert [c["seq"] for c in one.json()["chains"][0]["checkpoints"]] == [
        chain["checkpoints"][0]["seq"]
    ]  # newest first
    for bad in ("limit=0", "limit=1001", "offset=-1", f"offset={10**30}"):
        refused = await app.get(
            f"/api/v1/t/{world.a.slug}/audit/checkpoints?{bad}",
            headers=world.headers["a:client_admin"],
        )
        assert refused.status_code == 400 and "error" in refused.json(), bad


async def test_the_clients_file_catches_a_rewrite_that_also_removed_the_stored_checkpoints(
    app: Any, db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    await sign_twice(db, settings, app, world)
    held = await download(app, world, tmp_path)
    owner = Owner(settings, world.a.id)
    await owner.run("DELETE FROM audit_checkpoint WHERE tenant_id = :t", t=world.a.id)
    await owner.rewrite("改ざんされた目的")
    await owner.dispose()
    inside = await invoke(settings, "audit", "verify", "--tenant", world.a.slug)
    assert inside.exit_code == 0  # nothing left inside the system can tell
    outside = await invoke(
        settings, "audit", "verify", "--tenant", world.a.slug, "--checkpoints", str(held)
    )
    assert outside.exit_code == 1
    assert f"t:{world.a.id}: BROKEN" in outside.output
    assert "rewritten since the checkpoint" in outside.output


async def test_a_held_checkpoint_of_a_chain_gone_or_cut_short_fails(
    app: Any, db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    await sign_twice(db, settings, app, world)
    held = await download(app, world, tmp_path)
    newest = json.loads(held.read_text())["chains"][0]["checkpoints"][0]["seq"]
    owner = Owner(settings, world.a.id)
    await owner.run("DELETE FROM audit_checkpoint WHERE tenant_id = :t", t=world.a.id)
    await owner.truncate(newest - 2)
    cut = await invoke(settings, "audit", "verify", "--checkpoints", str(held))
    assert cut.exit_code == 1
    assert f"t:{world.a.id}: BROKEN at event {newest - 1}: chain ends before" in cut.output
    await owner.remove_tenant()  # the tenant and everything of it, checkpoints included
    await owner.dispose()
    gone = await invoke(settings, "audit", "verify", "--checkpoints", str(held))
    assert gone.exit_code == 1
    assert f"t:{world.a.id}: BROKEN at event 1: chain is missing" in gone.output
    assert f"t:{world.b.id}: ok" in gone.output


async def test_a_file_that_is_not_a_genuine_checkpoint_file_is_refused(
    app: Any, db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    await sign_twice(db, settings, app, world)
    held = await download(app, world, tmp_path)
    junk = tmp_path / "junk.json"
    junk.write_text("これはJSONではない")
    answer = await invoke(settings, "audit", "verify", "--checkpoints", str(junk))
    assert answer.exit_code == 1 and "not JSON" in answer.output
    junk.write_text('{"format": "something-else/1", "public_key": "", "chains": []}')
    answer = await invoke(settings, "audit", "verify", "--checkpoints", str(junk))
    assert answer.exit_code == 1 and "expected 'madoguchi-audit-checkpoints/1'" in answer.output
    document = json.loads(held.read_text())
    document["chains"][0]["checkpoints"][0]["seq"] -= 1  # claims another event
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    answer = await invoke(settings, "audit", "verify", "--checkpoints", str(forged))
    assert answer.exit_code == 1 and "signature does not hold" in answer.output


async def test_the_operator_exports_every_chains_newest_checkpoint(
    app: Any, db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    await sign_twice(db, settings, app, world)
    path = tmp_path / "operator-copy.json"
    exported = await invoke(settings, "audit", "checkpoint", "--export", str(path))
    assert exported.exit_code == 0, exported.output
    document = json.loads(path.read_text())
    chains = {c["chain"]: len(c["checkpoints"]) for c in document["chains"]}
    assert chains == {f"t:{world.a.id}": 1, f"t:{world.b.id}": 1, "platform": 1}
    assert check_signatures(document) == 3
    verified = await invoke(settings, "audit", "verify", "--checkpoints", str(path))
    assert verified.exit_code == 0, verified.output
