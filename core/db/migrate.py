"""Alembic, driven from code: ``madoguchi db upgrade|downgrade|current`` and first-run setup.

These functions are synchronous (Alembic's env runs its own event loop); async callers use
``asyncio.to_thread``. On PostgreSQL, when the app connects as a different role than the one
that owns the tables, ``upgrade`` grants that role the data privileges it needs and no more.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from core.db.files import private_database_file
from core.settings import Settings

__all__ = ["alembic_config", "current_revision", "downgrade", "head_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
APPEND_ONLY = (
    "audit_event",
    "platform_audit_event",
    "audit_checkpoint",
    "platform_audit_checkpoint",
)
FILE_TEMPLATE = "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s_%%(rev)s"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _prepare(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.ensure_dirs()
        database = make_url(settings.migration_database_url).database
        if database and database != ":memory:":  # made 0600 before SQLite creates it
            private_database_file(database)


def upgrade(settings: Settings, revision: str = "head") -> None:
    _prepare(settings)
    command.upgrade(alembic_config(settings.migration_database_url), revision)
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
