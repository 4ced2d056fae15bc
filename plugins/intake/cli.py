"""``madoguchi intake ...``: the SMTP listener."""

from __future__ import annotations

import asyncio

import click


@click.group()
def intake() -> None:
    """Inquiry intake: channels that run as their own process."""


@intake.command("smtp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
@click.option("--max-size", default=25 * 1024 * 1024, show_default=True, help="bytes per message")
@click.pass_context
def smtp(ctx: click.Context, host: str, port: int, max_size: int) -> None:
    """Accept mail for the tenants' inbound addresses and turn it into inquiries."""
    from aiosmtpd.smtp import SMTP

    from core import PluginProcess, run_plugin_process
    from plugins.intake.smtp import IntakeSMTPHandler

    async def serve(process: PluginProcess) -> None:
        handler = IntakeSMTPHandler(process)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(
                handler, data_size_limit=max_size, enable_SMTPUTF8=True, hostname="madoguchi"
            ),
            host=host,
            port=port,
        )
        click.echo(f"SMTP intake listening on {host}:{port}")
        async with server:
            await server.serve_forever()

    try:
        run_plugin_process(ctx, "intake", serve)
    except KeyboardInterrupt:
        return
