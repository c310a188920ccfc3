"""nats kind: real nats-server with JetStream and nats-py; streams survive a graceful restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nats
import pytest

from stackfixtures.kinds import natsproto

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


async def test_stream_messages_survive_graceful_restart(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(tmp_path, '[services.bus]\nkind = "nats"\n')
    bus = (await stack.start())["bus"]
    assert bus.url.startswith("nats://127.0.0.1:")
    nc = await nats.connect(bus.url)
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"])
    ack = await js.publish("orders.new", b"order-1")
    assert ack.seq == 1
    await nc.close()
    [stop] = await stack.stop(["bus"])
    assert stop.graceful and stop.processes[0].returncode == 0
    again = (await stack.start())["bus"]
    nc = await nats.connect(again.url)
    msg = await nc.jetstream().get_msg("ORDERS", 1)
    assert msg.data == b"order-1"
    await nc.close()
    await stack.close()


async def test_nats_prefix_isolates_and_cleans_streams(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(
        tmp_path,
        """
[services.nats]
kind = "nats"
[services.nats_prefix]
kind = "nats_prefix"
""",
    )
    handles = await stack.start(["nats_prefix"])
    scoped, server = handles["nats_prefix"], stack.handle("nats")
    assert scoped.prefix.startswith("t") and scoped.stream_prefix == scoped.prefix.upper()
    nc = await nats.connect(scoped.url)
    js = nc.jetstream()
    await js.add_stream(name=f"{scoped.stream_prefix}_TASKS", subjects=[f"{scoped.prefix}.tasks"])
    await js.add_stream(name="KEEP", subjects=["keep"])
    await nc.close()
    await stack.stop(["nats_prefix"])
    names = await natsproto.jetstream(server.host, server.port, "STREAM.NAMES")
    assert names["streams"] == ["KEEP"]
    await stack.close()


async def test_info_line_reports_jetstream(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(tmp_path, '[services.bus]\nkind = "nats"\n')
    bus = (await stack.start())["bus"]
    info = await natsproto.info(bus.host, bus.port)
    assert info["jetstream"] is True and info["port"] == bus.port
    await stack.close()
