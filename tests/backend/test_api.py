"""The reference backend through its HTTP API, in both modes, with real servers behind it."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import Any

import httpx
import psutil
import psycopg
import pytest

import stackfixtures as sf

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def digest(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def wait_done(client: httpx.Client, ids: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """Poll until every task is done; returns the final views by id."""
    deadline = time.monotonic() + timeout
    views: dict[str, Any] = {}
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        still = []
        for task_id in pending:
            view = client.get(f"/tasks/{task_id}").json()
            if view["status"] == "done":
                views[task_id] = view
            else:
                still.append(task_id)
        pending = still
        if pending:
            time.sleep(0.05)
    assert not pending, f"{len(pending)} tasks never completed, e.g. {pending[:3]}"
    return views


def test_task_is_created_processed_and_read(api_client: httpx.Client) -> None:
    created = api_client.post("/tasks", json={"payload": "hello"})
    assert created.status_code == 201
    task_id = created.json()["id"]
    assert uuid.UUID(task_id)
    view = wait_done(api_client, [task_id])[task_id]
    assert view == {"id": task_id, "status": "done", "result": digest("hello")}


def test_pending_is_visible_then_done(api_client: httpx.Client, postgres: sf.Handle) -> None:
    task_id = api_client.post("/tasks", json={"payload": "x" * 10}).json()["id"]
    first = api_client.get(f"/tasks/{task_id}").json()
    assert first["status"] in ("pending", "done")
    wait_done(api_client, [task_id])
    with psycopg.connect(postgres.dsn) as conn:
        row = conn.execute(
            "SELECT status, applied, agent FROM tasks WHERE id = %s", (task_id,)
        ).fetchone()
    assert row is not None and row[0] == "done" and row[1] == 1 and row[2].startswith("agent-")


def test_many_tasks_each_applied_exactly_once(
    api_client: httpx.Client, postgres: sf.Handle, agents: sf.Handle
) -> None:
    ids = [api_client.post("/tasks", json={"payload": f"task {i}"}).json()["id"] for i in range(60)]
    views = wait_done(api_client, ids)
    assert all(views[i]["result"] == digest(f"task {n}") for n, i in enumerate(ids))
    with psycopg.connect(postgres.dsn) as conn:
        rows = conn.execute(
            "SELECT applied, agent FROM tasks WHERE id = ANY(%s)", ([uuid.UUID(i) for i in ids],)
        ).fetchall()
    assert len(rows) == 60 and {r[0] for r in rows} == {1}
    assert {r[1] for r in rows} <= set(agents.names)


def test_unknown_task_and_bad_request(api_client: httpx.Client) -> None:
    assert api_client.get(f"/tasks/{uuid.uuid4()}").status_code == 404
    assert api_client.post("/tasks", json={"nope": 1}).status_code == 422
    assert api_client.get("/tasks/not-a-uuid").status_code == 422


def test_health_reports_each_dependency(api_client: httpx.Client, agents: sf.Handle) -> None:
    health = api_client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["components"]["tasks"]["dependencies"] == {
        "postgres": "ok",
        "redis": "ok",
        "nats": "ok",
    }
    for url in agents.urls:  # in multi mode each agent answers its own /health
        agent_health = httpx.get(url + "/health", timeout=10, trust_env=False).json()
        assert agent_health["status"] == "ok"


def test_mode_shapes_the_processes(
    api_gateway: sf.Handle, agents: sf.Handle, stack_mode: str
) -> None:
    assert api_gateway.mode == agents.mode == stack_mode
    assert agents.count == 3
    if stack_mode == "single":
        assert agents.pids == [api_gateway.pid]
    else:
        assert len(set(agents.pids)) == 3 and api_gateway.pid not in agents.pids
        for pid in agents.pids:
            assert "agent-" in " ".join(psutil.Process(pid).cmdline())


async def test_async_client(async_api_client: Any) -> None:
    created = await async_api_client.post("/tasks", json={"payload": "async"})
    assert created.status_code == 201


def test_gateway_answers_again_after_its_database_restarted(private_stack: Any) -> None:
    gateway = private_stack.start("api_gateway", "agents")["api_gateway"]
    private_stack.restart("postgres")  # the gateway and agents follow their restart edges
    private_stack.wait_for("api_gateway", "ready")
    private_stack.wait_for("agents", "ready")
    with httpx.Client(base_url=gateway.url, timeout=10, trust_env=False) as client:
        task_id = client.post("/tasks", json={"payload": "after restart"}).json()["id"]
        assert wait_done(client, [task_id])[task_id]["result"] == digest("after restart")


def test_stop_with_tasks_in_flight_then_restart_loses_nothing(private_stack: Any) -> None:
    """Stops and restarts the whole backend under traffic, on a stack of its own."""
    handles = private_stack.start("api_gateway", "agents", "postgres")
    api_gateway, postgres = handles["api_gateway"], handles["postgres"]
    stack = private_stack
    acknowledged: list[str] = []
    done = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=api_gateway.url, timeout=5, trust_env=False) as client:
            n = 0
            while not done.is_set():
                n += 1
                try:
                    reply = client.post("/tasks", json={"payload": f"in flight {n}"})
                except httpx.HTTPError:
                    time.sleep(0.01)  # the backend is down for a moment; keep trying
                    continue
                if reply.status_code == 201:
                    acknowledged.append(reply.json()["id"])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(0.5)
        before = len(acknowledged)
        stops = stack.stop("postgres", "redis", "nats")  # dependents first: agents, gateway
        assert [s.service for s in stops][:2] == ["agents", "api_gateway"]
        assert all(s.graceful for s in stops), [(s.service, s.error) for s in stops]
        stack.start("agents")  # the whole closure comes back, on the same addresses
        time.sleep(0.5)
    finally:
        done.set()
        writer.join()
    assert before > 0 and len(acknowledged) > before
    with httpx.Client(base_url=api_gateway.url, timeout=10, trust_env=False) as client:
        wait_done(client, acknowledged)
    with psycopg.connect(postgres.dsn) as conn:
        rows = conn.execute(
            "SELECT applied FROM tasks WHERE id = ANY(%s)", ([uuid.UUID(i) for i in acknowledged],)
        ).fetchall()
    assert len(rows) == len(acknowledged) and {r[0] for r in rows} == {1}


@pytest.mark.asyncio(loop_scope="session")
async def test_async_client_in_a_session_loop(async_api_client: Any) -> None:
    created = await async_api_client.post("/tasks", json={"payload": "session loop"})
    assert created.status_code == 201
    view = await async_api_client.get(f"/tasks/{created.json()['id']}")
    assert view.status_code == 200


@pytest.mark.asyncio(loop_scope="module")
async def test_async_client_in_a_module_loop(async_api_client: Any) -> None:
    assert (await async_api_client.get("/health")).status_code == 200
