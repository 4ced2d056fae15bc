"""Alembic, driven from code: ``madoguchi db upgrade|downgrade|current`` and first-run setup.

The core and the built-in plugins share one history (``migrations/versions``). A plugin
installed as its own distribution may ship a history of its own (its manifest's
``migrations`` folder): it is kept in a version table of its own (``alembic_version_<id>``)
and upgraded to its heads after the core's, so that its tables may refer to the core's.
Uninstalling the plugin leaves its version table and its tables alone: nothing of a client's
data is dropped, and the core's upgrades go on without it. On PostgreSQL, a table a plugin's
revisions create with a ``tenant_id`` column gets the tenant's row-level security at once.

These functions are synchronous (Alembic's env runs its own event loop); async callers use
``asyncio.to_thread``. On PostgreSQL, when the app connects as a different role than the one
that owns the tables, ``upgrade`` grants that role the data privileges it needs and no more.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from core.db.files import private_database_file
from core.db.rls import tenant_rls_statements
from core.settings import Settings

__all__ = [
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "plugin_revisions",
    "protect_new_tenant_tables",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
APPEND_ONLY = (
    "audit_event",
    "platform_audit_event",
    "audit_checkpoint",
    "platform_audit_checkpoint",
)
FILE_TEMPLATE = "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s_%%(rev)s"


def alembic_config(url: str, plugin: tuple[str, Path] | None = None) -> Config:
    """The core's history, or with ``plugin`` (its id and folder) that plugin's own: the
    same environment (``migrations/env.py``), the plugin's revisions and version table."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if plugin is not None:
        plugin_id, folder = plugin
        config.set_main_option("path_separator", "os")  # one folder, whatever its name holds
        config.set_main_option("version_locations", str(folder).replace("%", "%%"))
        config.set_main_option("version_table", version_table(plugin_id))
    return config


def version_table(plugin_id: str) -> str:
    return "alembic_version_" + plugin_id.replace("-", "_")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def plugin_heads(plugin_id: str, folder: Path) -> tuple[str, ...]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://", (plugin_id, folder)))
    return tuple(sorted(script.get_heads()))


def _prepare(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.ensure_dirs()
        database = make_url(settings.migration_database_url).database
        if database and database != ":memory:":  # made 0600 before SQLite creates it
            private_database_file(database)


def upgrade(
    settings: Settings, revision: str = "head", plugins: Mapping[str, Path] | None = None
) -> None:
    """The core's history to ``revision``, then (when the core is at its head) each plugin's
    of ``plugins`` (id -> its migrations folder) to its heads."""
    _prepare(settings)
    url = settings.migration_database_url
    command.upgrade(alembic_config(url), revision)
    if plugins and current_revision(settings) == head_revision():
        for plugin_id, folder in sorted(plugins.items()):
            command.upgrade(alembic_config(url, (plugin_id, folder)), "heads")
    _grant_app_role(settings)


def downgrade(settings: Settings, revision: str = "-1") -> None:
    command.downgrade(alembic_config(settings.migration_database_url), revision)


def sync_url(url: str) -> sa.URL:
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[parsed.get_backend_name()]
    return parsed.set(drivername=driver)


def current_revision(settings: Settings) -> str | None:
    _prepare(settings)
    engine = sa.create_engine(sync_url(settings.migration_database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def plugin_revisions(
    settings: Settings, plugins: Mapping[str, Path]
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each plugin's (current revisions, the code's heads), by plugin id."""
    _prepare(settings)
    engine = sa.create_engine(sync_url(settings.migration_database_url), poolclass=sa.pool.NullPool)
    found = {}
    try:
        with engine.connect() as connection:
            for plugin_id, folder in sorted(plugins.items()):
                context = MigrationContext.configure(
                    connection, opts={"version_table": version_table(plugin_id)}
                )
                current = tuple(sorted(context.get_current_heads()))
                found[plugin_id] = (current, plugin_heads(plugin_id, folder))
    finally:
        engine.dispose()
    return found


def protect_new_tenant_tables(connection: sa.Connection, before: set[str]) -> None:
    """Row-level security for each table with a ``tenant_id`` column made since ``before``
    (the tables there were), on PostgreSQL, as the core's own migrations give theirs; a
    policy the plugin made itself is kept. Run by the environment inside the transaction of
    a plugin's revisions, so that no such table is ever committed unprotected."""
    if connection.dialect.name != "postgresql":
        return
    inspector = sa.inspect(connection)
    inspector.clear_cache()
    for table in sorted(set(inspector.get_table_names()) - before):
        if "tenant_id" not in {c["name"] for c in inspector.get_columns(table)}:
            continue
        has_policy = connection.execute(
            sa.text("SELECT count(*) FROM pg_policies WHERE tablename = :t"), {"t": table}
        ).scalar()
        if not has_policy:
            for statement in tenant_rls_statements(table):
                connection.execute(sa.text(statement))


def _app_role(settings: Settings) -> str | None:
    if settings.is_sqlite:
        return None
    if settings.app_role:
        return settings.app_role
    app_user = make_url(settings.database_url).username
    owner = make_url(settings.migration_database_url).username
    return app_user if app_user and app_user != owner else None


def _grant_app_role(settings: Settings) -> None:
    role = _app_role(settings)
    if role is None:
        return
    quoted = '"' + role.replace('"', '""') + '"'
    engine = sa.create_engine(sync_url(settings.migration_database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            connection.execute(
                sa.text(
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
                )
            )
            connection.execute(
                sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
            )
            connection.execute(
                sa.text(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {quoted}")
            )
            # the audit log is append-only for the app: no UPDATE, no DELETE
            for table in APPEND_ONLY:
                if sa.inspect(connection).has_table(table):
                    connection.execute(sa.text(f'REVOKE UPDATE, DELETE ON "{table}" FROM {quoted}'))
    finally:
        engine.dispose()
