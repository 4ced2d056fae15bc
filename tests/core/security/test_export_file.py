"""What lands in an export file and its request: nothing a spreadsheet would run, and the
request's purpose from the list with its note sealed."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from core.db.engine import Database
from core.settings import Settings
from tests.conftest import World, seed_customer

FORMULA = '=HYPERLINK("https://evil.example/","請求書")'
NOTE = "年末の監査で山田様の件も確認するため"


async def test_export_cells_never_run_as_formulas_and_the_purposes_note_is_sealed(
    app: Any, db: Database, settings: Settings, world: World
) -> None:
    await seed_customer(db, settings, world.a, {"name": FORMULA, "note": "+81 @mention -1"})
    base = f"/api/v1/t/{world.a.slug}/exports"
    supervisor = world.headers["a:supervisor"]
    created = await app.post(
        base, json={"kind": "customers", "purpose": "other", "note": NOTE}, headers=supervisor
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["purpose"] == "other" and body["purpose_note"] is True
    assert NOTE not in created.text
    no_note = await app.post(
        base, json={"kind": "customers", "purpose": "other"}, headers=supervisor
    )
    assert no_note.status_code == 422 and no_note.json()["error"]["field"] == "note"
    approved = await app.post(
        f"{base}/{body['id']}/approve", headers=world.headers["security_officer"]
    )
    assert approved.status_code == 200
    download = await app.get(f"{base}/{body['id']}/download", headers=supervisor)
    rows = list(csv.DictReader(io.StringIO("\n".join(download.text.splitlines()[1:]))))
    row = next(r for r in rows if FORMULA in r["name"])
    assert row["name"] == "'" + FORMULA and row["note"] == "'+81 @mention -1"
    listed = await app.get(base, headers=supervisor)
    assert NOTE not in listed.text
    if db.dialect == "sqlite":  # the note is sealed: not in the file nor its log
        files = Path(str(db.engine.url.database)).parent.glob("madoguchi.db*")
        assert not [f for f in files if NOTE.encode() in f.read_bytes()]
