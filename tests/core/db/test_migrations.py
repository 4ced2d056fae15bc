"""One Alembic history: up to head and back to base on an empty database, on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.db import migrate
from core.settings import Settings, load_settings
from tests.conftest import PG_URL, drop_pg_database, new_pg_database, pg_settings


@pytest.fixture
def empty_settings(engine_kind: str, tmp_path: Path) -> object:
    if engine_kind == "sqlite":
        yield load_settings(home=tmp_path)
        return
    if PG_URL is None:
        pytest.skip("PostgreSQL not available here (scripts/test.sh starts one; CI always has it)")
    name = new_pg_database(None)
    try:
        yield pg_settings(tmp_path, name)
    finally:
        drop_pg_database(name)


def _tables(settings: Settings) -> set[str]:
    engine = sa.create_engine(migrate.sync_url(settings.migration_database_url))
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_to_head_and_down_to_base(empty_settings: Settings) -> None:
    assert migrate.current_revision(empty_settings) is None
    migrate.upgrade(empty_settings)
    assert migrate.current_revision(empty_settings) == migrate.head_revision()
    assert {"tenant", "tenant_plugin", "job", "user_account", "role_grant", "api_token"} <= _tables(
        empty_settings
    )
    migrate.downgrade(empty_settings, "base")
    assert migrate.current_revision(empty_settings) is None
    assert _tables(empty_settings) == set()
    migrate.upgrade(empty_settings)  # and up again, as a re-deploy would
    assert migrate.current_revision(empty_settings) == migrate.head_revision()


def test_migration_files_are_date_prefixed() -> None:
    files = sorted(
        p.name
        for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py")
        if p.name != "__init__.py"
    )
    assert files
    for name in files:
        assert name[:11].count("-") == 2 and name[10] == "_", name


def test_models_and_migrations_agree(empty_settings: Settings) -> None:
    """A model changed without a migration fails here (autogenerate would find a difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel.main import default_registry

    import core.models  # noqa: F401
    from core.db.base import metadata
    from core.plugins.builtin import import_builtin_models

    import_builtin_models()
    # the core's history covers the core's and the built-in plugins' tables; an installed
    # plugin's (a test may have imported one) are its own history's (test_plugin_tables)
    theirs = {
        mapper.local_table.name
        for mapper in default_registry.mappers
        if not mapper.class_.__module__.startswith(("core.", "plugins."))
    }

    def in_core_history(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return getattr(table, "name", name) not in theirs

    migrate.upgrade(empty_settings)
    engine = sa.create_engine(migrate.sync_url(empty_settings.migration_database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": in_core_history}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
