"""``madoguchi``: the command line. Plugins add commands through ``register_cli_commands``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from core.cli.runtime import Runtime, run, services_for
from core.db import migrate
from core.db.engine import Database

__all__ = ["main"]

console = Console()
# uvicorn's own proxy-header handling is off: by default it takes X-Forwarded-For from any
# connection from 127.0.0.1, while the app trusts only MADOGUCHI_TRUSTED_PROXIES (core.web.proxies)
SERVE_OPTIONS: dict[str, Any] = {"access_log": False, "log_config": None, "proxy_headers": False}


class MadoguchiGroup(click.Group):
    """The root group; adds the plugins' commands the first time the list is asked for."""

    _plugins_loaded = False

    def _load_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        runtime: Runtime = ctx.ensure_object(Runtime)
        for command in runtime.host.collect("register_cli_commands"):
            if command.name in self.commands:
                raise click.ClickException(f"plugin command {command.name} clashes with another")
            self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None:
            self._load_plugin_commands(ctx)
            found = super().get_command(ctx, cmd_name)
        return found


@click.group(cls=MadoguchiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """窓口 Madoguchi: multi-tenant customer-contact platform.

    MADOGUCHI_HOME sets where var/ lives; MADOGUCHI_DATABASE_URL selects PostgreSQL.
    """
    ctx.ensure_object(Runtime)


def runtime_of(ctx: click.Context) -> Runtime:
    return ctx.ensure_object(Runtime)


# -- serve / worker / demo -----------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int, help="port to listen on")
@click.option("--demo", is_flag=True, help="load the example tenants and demo staff first")
@click.option(
    "--worker/--no-worker",
    default=None,
    help="run the job worker in this process (default: on with SQLite)",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, demo: bool, worker: bool | None) -> None:
    """Start the web server (migrates SQLite on first run)."""
    import uvicorn

    from core.app import create_app
    from core.audit.signing import SigningKeyError, check_key_location

    runtime = runtime_of(ctx)
    try:
        check_key_location(runtime.settings)  # before anything is written
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    runtime.ensure_schema()
    if demo:
        from core.cli.demo import load_demo

        run(runtime, lambda db: load_demo(db, runtime, console))
    in_process = runtime.settings.is_sqlite if worker is None else worker
    app = create_app(runtime.settings, host=runtime.host, run_worker=in_process)
    console.print(f"[bold]窓口 Madoguchi[/] http://{host}:{port}  (Ctrl+C で停止)")
    uvicorn.run(app, host=host, port=port, **SERVE_OPTIONS)


@cli.command()
@click.option("--once", is_flag=True, help="run the due jobs, then exit")
@click.option("--poll", default=1.0, show_default=True, help="seconds between polls when idle")
@click.pass_context
def worker(ctx: click.Context, once: bool, poll: float) -> None:
    """Run background jobs (any number of workers may run, on any node)."""
    from core.jobs.worker import Worker

    runtime = runtime_of(ctx)

    async def work(db: Database) -> int:
        from core.pii.keyring import KeyRing

        w = Worker(db, runtime.host, poll_interval=poll, keyring=KeyRing(runtime.settings))
        if once:
            count = 0
            while await w.run_once():
                count += 1
            return count
        await w.run()
        return 0

    try:
        count = run(runtime, work)
    except KeyboardInterrupt:
        return
    if once:
        console.print(f"{count} job(s) run")


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Load the example tenants and demo staff (idempotent)."""
    from core.cli.demo import load_demo

    runtime = runtime_of(ctx)
    run(runtime, lambda db: load_demo(db, runtime, console))


# -- db ------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database migrations: one Alembic history for the core and built-in plugins, and one
    of its own for each installed plugin that ships one."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Upgrade the core's schema to REVISION (default: head), then every installed plugin's
    own to its head."""
    runtime = runtime_of(ctx)
    plugins = runtime.host.migration_dirs()
    migrate.upgrade(runtime.settings, revision, plugins=plugins)
    console.print(f"at {migrate.current_revision(runtime.settings)}")
    for plugin_id, (at, _) in migrate.plugin_revisions(runtime.settings, plugins).items():
        console.print(f"plugin {plugin_id} at {', '.join(at) or 'base'}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Downgrade the schema to REVISION (default: one step; 'base' removes everything)."""
    runtime = runtime_of(ctx)
    migrate.downgrade(runtime.settings, revision)
    console.print(f"at {migrate.current_revision(runtime.settings) or 'base'}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema's revision and the code's head."""
    runtime = runtime_of(ctx)
    current = migrate.current_revision(runtime.settings)
    head = migrate.head_revision()
    console.print(f"current: {current or 'base'}\nhead:    {head}")
    behind = current != head
    plugins = runtime.host.migration_dirs()
    for plugin_id, (at, heads) in migrate.plugin_revisions(runtime.settings, plugins).items():
        console.print(
            f"plugin {plugin_id}: current {', '.join(at) or 'base'}, head {', '.join(heads)}"
        )
        behind = behind or at != heads
    if behind:
        sys.exit(1)


# -- tenant ----------------------------------------------------------------------------------


@cli.group()
def tenant() -> None:
    """Tenants (client companies) and their manifests."""


@tenant.command("apply")
@click.argument("path", type=click.Path(path_type=Path))
@click.pass_context
def tenant_apply(ctx: click.Context, path: Path) -> None:
    """Create or update tenants from a manifest file or a folder of them (all or nothing)."""
    from core.tenancy.manifest import ManifestError, load_manifests
    from core.tenancy.service import apply_specs

    runtime = runtime_of(ctx)
    try:
        specs = load_manifests(path, runtime.host)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        changes = run(
            runtime,
            lambda db: apply_specs(db, runtime.host, specs, services=services_for(runtime, db)),
        )
    except ManifestError as exc:  # refused by a plugin's check of its settings
        raise click.ClickException(str(exc)) from None
    for change in changes:
        if not change.changed:
            console.print(f"{change.slug}: unchanged")
        else:
            verb = "created" if change.created else "updated"
            console.print(f"[bold]{change.slug}[/]: {verb}")
            for line in change.changes:
                console.print(f"  - {line}", markup=False)
        if change.pending is not None:
            request_id, lines = change.pending
            console.print(
                f"  security settings awaiting approval (request {request_id}) by the tenant's "
                "client_admin or a security_officer:"
            )
            for line in lines:
                console.print(f"    {line}", markup=False)


@tenant.command("list")
@click.pass_context
def tenant_list(ctx: click.Context) -> None:
    """List tenants with their enabled plugins."""
    from core.tenancy.service import context_of, enabled_plugins, list_tenants

    runtime = runtime_of(ctx)

    async def work(db: Database) -> list[tuple[Any, frozenset[str]]]:
        async with db.session() as session:
            tenants = await list_tenants(session)
        return [(t, await enabled_plugins(db, context_of(t))) for t in tenants]

    table = Table("slug", "name", "status", "plugins")
    for t, enabled in run(runtime, work):
        table.add_row(t.slug, t.display_name, t.status, ", ".join(sorted(enabled)))
    console.print(table)


@tenant.command("show")
@click.argument("slug")
@click.pass_context
def tenant_show(ctx: click.Context, slug: str) -> None:
    """Show one tenant's configuration as JSON."""
    import json

    from core.tenancy.service import get_tenant, read_tenant

    runtime = runtime_of(ctx)

    async def work(db: Database) -> dict[str, Any] | None:
        async with db.session() as session:
            t = await get_tenant(session, slug)
            return None if t is None else (await read_tenant(session, t)).model_dump(mode="json")

    data = run(runtime, work)
    if data is None:
        raise click.ClickException(f"no tenant {slug}")
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


# -- plugins -----------------------------------------------------------------------------------


@cli.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@click.option("--tenant", "slug", help="show enabling for this tenant")
@click.pass_context
def plugins_list(ctx: click.Context, slug: str | None) -> None:
    """List installed plugins (and, with --tenant, whether that tenant enabled them)."""
    from core.tenancy.service import context_of, get_tenant, tenant_plugins

    runtime = runtime_of(ctx)
    rows: dict[str, Any] = {}
    if slug:

        async def work(db: Database) -> dict[str, Any]:
            async with db.session() as session:
                t = await get_tenant(session, slug)
            if t is None:
                raise click.ClickException(f"no tenant {slug}")
            async with db.session(context_of(t)) as session:
                return {p.plugin_id: p for p in await tenant_plugins(session)}

        rows = run(runtime, work)
    table = Table("id", "name", "version", "requires core", *(["enabled"] if slug else []))
    for manifest in sorted(runtime.host.manifests.values(), key=lambda m: m.id):
        extra = []
        if slug:
            row = rows.get(manifest.id)
            extra = ["yes" if row is not None and row.enabled else "no"]
        table.add_row(manifest.id, manifest.name, manifest.version, manifest.requires_core, *extra)
    console.print(table)


# -- users and tokens ---------------------------------------------------------------------------


@cli.group()
def user() -> None:
    """Users and their roles."""


@user.command("create")
@click.argument("email")
@click.option("--name", default="", help="display name")
@click.option("--no-password", is_flag=True, help="create without a password (API tokens only)")
@click.pass_context
def user_create(ctx: click.Context, email: str, name: str, no_password: bool) -> None:
    """Create a user; the password is read from stdin (asked twice on a terminal)."""
    from core.identity.passwords import PasswordPolicyError, hash_password
    from core.identity.service import IdentityError, create_user

    runtime = runtime_of(ctx)
    try:
        hashed = None if no_password else hash_password(read_password())
    except PasswordPolicyError as exc:
        raise click.ClickException(str(exc)) from None

    async def work(db: Database) -> None:
        from core.db.base import utcnow

        async with db.session() as session:
            user = await create_user(session, email, name)
            user.password_hash = hashed
            user.activated_at = utcnow() if hashed else None

    try:
        run(runtime, work)
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"created {email.lower()}")


def _grant_command(grant: bool) -> Any:
    @click.argument("email")
    @click.argument("role")
    @click.option("--tenant", "slug", help="the tenant, for tenant roles")
    @click.pass_context
    def command(ctx: click.Context, email: str, role: str, slug: str | None) -> None:
        from core.approvals.rules import ApprovalError
        from core.approvals.service import Requester, request_grant, revoke

        runtime = runtime_of(ctx)

        async def work(db: Database) -> str:
            async with db.session() as session:
                if not grant:
                    return "revoked" if await revoke(session, email, role, slug) else "unchanged"
                row = await request_grant(session, Requester(None, "cli"), email, role, slug)
                return "granted" if row.status == "approved" else f"pending:{row.id}"

        try:
            outcome = run(runtime, work)
        except ApprovalError as exc:
            raise click.ClickException(exc.message) from None
        where = f" in {slug}" if slug else ""
        if outcome == "unchanged":
            console.print("nothing to change")
        elif outcome.startswith("pending:"):
            console.print(
                f"{role}{where} requested (request {outcome.split(':')[1]}): it takes effect "
                "when the tenant's client_admin or a security_officer approves it"
            )
        else:
            console.print(f"{role}{where} {outcome}")

    command.__doc__ = (
        "Grant ROLE to a user (--tenant SLUG for tenant roles). A tenant role that reads "
        "personal data or approves exports takes effect once the tenant's client_admin or a "
        "security_officer approves it; platform roles are granted here at once (the server's "
        "console bootstraps the platform), audited."
        if grant
        else "Revoke ROLE from a user (--tenant SLUG for tenant roles); at once."
    )
    return command


user.command("grant")(_grant_command(True))
user.command("revoke")(_grant_command(False))


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("email")
@click.option("--tenant", "slug", help="bind the token to one tenant")
@click.option("--expires", "days", type=click.IntRange(1, 3650), help="days until it expires")
@click.pass_context
def token_create(ctx: click.Context, email: str, slug: str | None, days: int | None) -> None:
    """Create an API token for EMAIL, for bootstrapping on the server's machine; it is printed
    once, stored only as a hash, and audited in every tenant it reaches. Everyone else makes
    their own on their account page or with POST /api/v1/auth/tokens."""
    from core.identity.service import IdentityError, create_token

    runtime = runtime_of(ctx)

    async def work(db: Database) -> str:
        async with db.session() as session:
            return await create_token(session, email, tenant_slug=slug, expires_days=days)

    try:
        click.echo(run(runtime, work))
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None


from core.cli.security import (  # noqa: E402  (commands defined in their own module)
    audit,
    canaries_command,
    keys,
    offboard_command,
    password_command,
    read_password,
    totp_command,
)

cli.add_command(audit)
cli.add_command(keys)
tenant.add_command(offboard_command)
tenant.add_command(canaries_command)
user.add_command(password_command)
user.add_command(totp_command)


def main() -> None:
    cli(prog_name="madoguchi")


if __name__ == "__main__":
    main()
