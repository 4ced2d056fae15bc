"""Tenant manifests: idempotent, all-or-nothing, errors that name the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import load_settings
from core.tenancy.manifest import ManifestError, load_manifests
from core.tenancy.models import Tenant
from core.tenancy.service import apply_specs, enabled_plugins

SHIPPED = load_settings().tenants_dir


async def tenant_count(db: Database) -> int:
    async with db.session() as s:
        return len((await s.exec(select(Tenant))).all())


async def test_shipped_examples_apply_and_differ_in_plugins(db: Database, host: PluginHost) -> None:
    changes = await apply_specs(db, host, load_manifests(SHIPPED, host))
    assert len(changes) >= 3 and all(c.created for c in changes)
    sets = []
    for change in changes:
        assert change.context is not None
        sets.append(await enabled_plugins(db, change.context))
    assert len(set(sets)) == len(sets), "each example tenant enables a different set of plugins"
    async with db.session() as s:
        names = [t.display_name for t in (await s.exec(select(Tenant))).all()]
    assert all(any("\u3040" <= ch <= "\u9fff" for ch in name) for name in names)  # Japanese


async def test_apply_twice_changes_nothing_the_second_time(db: Database, host: PluginHost) -> None:
    await apply_specs(db, host, load_manifests(SHIPPED, host))
    async with db.session() as s:
        before = {
            t.slug: (t.updated_at, t.config_version) for t in (await s.exec(select(Tenant))).all()
        }
    second = await apply_specs(db, host, load_manifests(SHIPPED, host))
    assert [c.changes for c in second] == [[] for _ in second]
    async with db.session() as s:
        after = {
            t.slug: (t.updated_at, t.config_version) for t in (await s.exec(select(Tenant))).all()
        }
    assert after == before


async def test_changed_manifest_reports_what_changed(
    db: Database, host: PluginHost, tmp_path: Path
) -> None:
    file = tmp_path / "hato-bus.toml"
    file.write_text(
        'display_name = "はとバス"\n[plugins.intake]\nenabled = true\n', encoding="utf-8"
    )
    await apply_specs(db, host, load_manifests(file, host))
    file.write_text(
        'display_name = "はとバス株式会社"\n[plugins.voc]\nenabled = true\n'
        '[plugins.voc.settings]\nreport_schedule = "weekly"\n',
        encoding="utf-8",
    )
    [change] = await apply_specs(db, host, load_manifests(file, host))
    assert "display_name: 'はとバス' -> 'はとバス株式会社'" in change.changes
    assert "plugin voc enabled" in change.changes
    assert "plugin intake disabled (not in manifest)" in change.changes
    assert change.context is not None
    assert await enabled_plugins(db, change.context) == {"voc"}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('display_name = "x"\ncolor = "blue"\n', "color"),
        (
            'display_name = "x"\n[plugins.voc.settings]\nreport_schedule = "daily"\n',
            "plugins.voc.settings.report_schedule",
        ),
        ('display_name = "x"\n[plugins.unknown]\n', "plugins.unknown"),
        ('display_name = "x"\n[roles]\nboss = ["plugin:list"]\n', "roles.boss"),
        ('display_name = "x"\nretention_days = "long"\n', "retention_days"),
        ('display_name = "x"\nslug = "another"\n', "slug"),
        ("display_name = \n", "-"),
    ],
)
async def test_broken_manifest_changes_nothing(
    db: Database, host: PluginHost, tmp_path: Path, text: str, field: str
) -> None:
    folder = tmp_path / "tenants"
    shutil.copytree(SHIPPED, folder)
    (folder / "zz-broken.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        await apply_specs(db, host, load_manifests(folder, host))
    assert info.value.field == field
    assert info.value.source.endswith("zz-broken.toml")
    assert await tenant_count(db) == 0


async def test_failure_inside_the_transaction_rolls_back_every_tenant(
    db: Database, host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = load_manifests(SHIPPED, host)
    import core.tenancy.service as service

    original = service._apply_one
    calls = 0

    async def fail_on_last(session, spec, by):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == len(specs):
            raise RuntimeError("disk full")
        return await original(session, spec, by)

    monkeypatch.setattr(service, "_apply_one", fail_on_last)
    with pytest.raises(RuntimeError):
        await apply_specs(db, host, specs)
    assert calls == len(specs)
    assert await tenant_count(db) == 0
