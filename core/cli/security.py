"""CLI for the security features: audit verify/checkpoint, keys rotate, tenant offboard,
passwords and second factors."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from core.cli.runtime import Runtime, run
from core.db.engine import Database

__all__ = [
    "audit",
    "canaries_command",
    "keys",
    "offboard_command",
    "password_command",
    "totp_command",
]

console = Console()


def _runtime(ctx: click.Context) -> Runtime:
    return ctx.ensure_object(Runtime)


async def _tenant_id(db: Database, slug: str) -> int:
    from core.tenancy.service import get_tenant

    async with db.session() as session:
        tenant = await get_tenant(session, slug)
    if tenant is None or tenant.id is None:
        raise click.ClickException(f"no tenant {slug}")
    return tenant.id


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--tenant", "slug", help="verify one tenant's chain only")
@click.option(
    "--checkpoints",
    "files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="signed checkpoints held outside the system (a client's download, an operator's "
    "export); may be given more than once",
)
@click.pass_context
def audit_verify(ctx: click.Context, slug: str | None, files: tuple[Path, ...]) -> None:
    """Recompute the chains and compare them with every signed checkpoint; exit 1 naming the
    first bad event on any tampering."""
    from core.audit.checkpoint import verify_all
    from core.audit.checkpoint_file import CheckpointFileError, read_document
    from core.audit.signing import SigningKeyError

    runtime = _runtime(ctx)
    try:
        documents = [read_document(path) for path in files]
    except CheckpointFileError as exc:
        raise click.ClickException(str(exc)) from None

    async def work(db: Database) -> bool:
        tenant_id = await _tenant_id(db, slug) if slug else None
        try:
            result = await verify_all(db, runtime.settings, tenant_id, outside=documents)
        except SigningKeyError as exc:
            raise click.ClickException(str(exc)) from None
        for report in result.reports:
            if report.ok:
                console.print(
                    f"{report.chain}: ok, {report.events} events, "
                    f"{report.checkpoints} checkpoint(s)"
                )
            else:
                console.print(
                    f"[red]{report.chain}: BROKEN at event {report.first_bad_seq}: "
                    f"{report.reason}[/]",
                    highlight=False,
                )
        console.print(f"newest stored checkpoint: {result.checkpoint or 'none yet'}")
        return result.ok

    if not run(runtime, work):
        sys.exit(1)


@audit.command("checkpoint")
@click.option(
    "--export",
    "export",
    type=click.Path(path_type=Path, dir_okay=False),
    help="also write every chain's newest checkpoint to this file, to keep outside the system",
)
@click.pass_context
def audit_checkpoint(ctx: click.Context, export: Path | None) -> None:
    """Sign the head of every chain that grew since its last checkpoint, now (serving
    processes do this every minute on their own); exit 1 if a chain could not be signed."""
    from datetime import timedelta

    import msgspec

    from core.audit.checkpoint import checkpoint_document
    from core.audit.signer import take_checkpoints
    from core.audit.signing import SigningKeyError, load_signing_key

    runtime = _runtime(ctx)
    try:
        key = load_signing_key(runtime.settings)
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None

    async def work(db: Database) -> bool:
        taken = await take_checkpoints(db, key, every=timedelta(0))
        for chain, seq in taken.signed:
            console.print(f"{chain}: signed at event {seq}")
        for report in taken.refused:
            console.print(
                f"[red]{report.chain}: NOT signed, BROKEN at event {report.first_bad_seq}: "
                f"{report.reason}[/]",
                highlight=False,
            )
        if not taken.signed and not taken.refused:
            console.print("every chain's head is signed already")
        if export is not None:
            document = await checkpoint_document(db, key)
            export.write_bytes(msgspec.json.format(msgspec.json.encode(document), indent=2))
            console.print(f"checkpoints written to {export}")
        return not taken.refused

    if not run(runtime, work):
        sys.exit(1)


@click.group()
def keys() -> None:
    """Encryption keys."""


@keys.command("rotate")
@click.option("--tenant", "slug", help="give this tenant a new data key and re-seal its data")
@click.pass_context
def keys_rotate(ctx: click.Context, slug: str | None) -> None:
    """Without --tenant: a new master key re-wraps every tenant's data keys.
    With --tenant: a new data key for that tenant, its records re-sealed under it."""
    from core.pii.rotation import rotate_master, rotate_tenant

    runtime = _runtime(ctx)

    async def work(db: Database) -> str:
        if slug:
            count = await rotate_tenant(db, runtime.settings, await _tenant_id(db, slug))
            return f"{slug}: new data key, {count} row(s) re-sealed"
        rewrapped, removed = await rotate_master(db, runtime.settings)
        return f"new master key; {rewrapped} data key(s) re-wrapped; {removed} old master key(s) removed"

    console.print(run(runtime, work))


@click.command("offboard")
@click.argument("slug")
@click.option("--archive", type=click.Path(), help="where to write the encrypted archive")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_context
def offboard_command(ctx: click.Context, slug: str, archive: str | None, yes: bool) -> None:
    """Export a tenant's data to an encrypted archive, then destroy its data key."""
    from core.pii.offboarding import offboard

    runtime = _runtime(ctx)
    if not yes:
        click.confirm(
            f"Destroy the data key of {slug}? Its data cannot be read afterwards.", abort=True
        )

    async def work(db: Database) -> tuple[Path, str, str]:
        return await offboard(
            db, runtime.settings, await _tenant_id(db, slug), Path(archive) if archive else None
        )

    path, passphrase, certificate = run(runtime, work)
    console.print(f"archive: {path}")
    click.echo(f"archive key (shown once, give it to the client): {passphrase}")
    console.print(f"deletion certificate (audit event hash): {certificate}")


@click.command("password")
@click.argument("email")
@click.pass_context
def password_command(ctx: click.Context, email: str) -> None:
    """Set a user's password (read from stdin, or asked for twice on a terminal); ends the
    user's sessions."""
    from sqlmodel import select

    from core.identity.models import User
    from core.identity.passwords import PasswordPolicyError
    from core.identity.service import IdentityError, set_password
    from core.identity.sessions import end_other_sessions

    password = read_password()
    runtime = _runtime(ctx)

    async def work(db: Database) -> int:
        async with db.session() as session:
            await set_password(session, email, password)
            user = (await session.exec(select(User).where(User.email == email.lower()))).one()
            assert user.id is not None
            return await end_other_sessions(session, user.id)

    try:
        ended = run(runtime, work)
    except (IdentityError, PasswordPolicyError) as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"password set; {ended} session(s) signed out")


def read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


@click.command("totp")
@click.argument("email")
@click.pass_context
def totp_command(ctx: click.Context, email: str) -> None:
    """Enrol (or re-enrol) a TOTP second factor; prints the secret and URI once."""
    from core.identity.service import IdentityError, enrol_totp
    from core.pii.keyring import KeyRing

    runtime = _runtime(ctx)

    async def work(db: Database) -> tuple[str, str]:
        async with db.session() as session:
            return await enrol_totp(session, KeyRing(runtime.settings), email)

    try:
        secret, uri = run(runtime, work)
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"secret: {secret}")
    click.echo(f"uri:    {uri}")


@click.command("canaries")
@click.argument("slug")
@click.option("--count", default=2, show_default=True, type=click.IntRange(1, 50))
@click.pass_context
def canaries_command(ctx: click.Context, slug: str, count: int) -> None:
    """Seed canary customers (honeytokens): revealing or exporting one raises an alert."""
    from core.pii.generate import seed_canaries
    from core.pii.keyring import KeyRing
    from core.tenancy.context import TenantContext

    runtime = _runtime(ctx)

    async def work(db: Database) -> int:
        tenant_id = await _tenant_id(db, slug)
        return await seed_canaries(
            db,
            KeyRing(runtime.settings),
            TenantContext(id=tenant_id, slug=slug, display_name=slug),
            count,
        )

    console.print(f"{run(runtime, work)} canary customer(s) added to {slug}")
