"""kafka kind: real Kafka where one is installed; a clear, actionable failure where none is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import stackfixtures as sf
from stackfixtures.kinds import kafkaproto

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

HAVE_KAFKA = (
    bool(os.environ.get("KAFKA_HOME"))
    and Path(os.environ.get("KAFKA_HOME", "/nonexistent"), "bin", "kafka-server-start.sh").is_file()
)


@pytest.mark.skipif(HAVE_KAFKA, reason="Kafka is installed here; the unavailable path is moot")
async def test_without_kafka_the_kind_says_how_to_install(
    tmp_path: Path, make_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    stack = await make_stack(tmp_path, '[services.events]\nkind = "kafka"\n')
    with pytest.raises(sf.StartError) as info:
        await stack.start()
    text = str(info.value)
    assert "service 'events'" in text and "set KAFKA_HOME" in text and "Java 17" in text


@pytest.mark.skipif(not HAVE_KAFKA, reason="no Kafka installed (set KAFKA_HOME to a Kafka release)")
async def test_kafka_starts_reports_metadata_and_stops_gracefully(
    tmp_path: Path, make_stack: Any
) -> None:
    stack = await make_stack(tmp_path, '[services.events]\nkind = "kafka"\nstart_timeout = 120\n')
    events = (await stack.start())["events"]
    brokers = await kafkaproto.brokers(events.host, events.port)
    assert brokers and brokers[0][2] == events.port
    [stop] = await stack.stop()
    assert stop.graceful
