"""MADOGUCHI_TRACE_HOOKS=1 logs every hook call, with argument names but not values."""

from __future__ import annotations

import io
import json

from core import TenantContext
from core.logging import configure_logging
from core.plugins.host import PluginHost
from tests.conftest import restore_session_logging


async def test_trace_logs_each_hook_call_without_values() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    try:
        await _check(stream)
    finally:
        restore_session_logging()


async def _check(stream: io.StringIO) -> None:
    host = PluginHost(trace=True)
    host.load_builtins()
    ctx = TenantContext(id=1, slug="trace-me", display_name="秘密の会社名")
    settings = host.manifest("intake").validate_settings(
        {"inbound_addresses": ["canary@example.jp"]}
    )
    relay = host.relay(ctx, {"intake"})
    await relay.notify(
        "on_plugin_enabled", ctx=ctx, plugin_id="intake", settings=settings, services=None
    )
    events = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    calls = [e for e in events if e["event"] == "hook_called"]
    assert calls and calls[0]["hook"] == "on_plugin_enabled"
    assert calls[0]["plugins"] == ["intake"]
    assert calls[0]["tenant"] == "trace-me"
    host.collect("register_routes")  # hooks pluggy calls itself are traced too
    calls = [json.loads(x) for x in stream.getvalue().splitlines() if '"hook_called"' in x]
    assert calls[-1]["hook"] == "register_routes"
    assert "canary@example.jp" not in stream.getvalue()
    assert "秘密の会社名" not in stream.getvalue()
