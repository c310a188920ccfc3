"""The backend's services as stackfixtures fixtures: `api_gateway` and `agents`.

single mode: one process serves the gateway and runs every agent in its event loop.
multi mode: the gateway and each agent run in processes of their own. Same API either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel, ConfigDict

import stackfixtures as sf
from stackfixtures.kinds.components import host

FACTORY = "backend.app:components"


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agents: int = 3  # how many agents the backend runs, in either mode
    grace: float = 10.0


def environment(postgres: sf.Handle, redis: sf.Handle, nats: sf.Handle) -> dict[str, str]:
    return {"DATABASE_URL": postgres.dsn, "REDIS_URL": redis.url, "NATS_URL": nats.url}


def agent_names(count: int) -> list[str]:
    return [f"agent-{i}" for i in range(count)]


@sf.service(config=GatewayConfig)
async def api_gateway(
    postgres: sf.Handle, redis: sf.Handle, nats: sf.Handle, ctx: sf.ServiceContext
) -> AsyncIterator[sf.Handle]:
    """The HTTP API (and, in single mode, every agent too)."""
    cfg = GatewayConfig.model_validate(ctx.config)
    mode = ctx.mode or "single"
    names = ["gateway", *(agent_names(cfg.agents) if mode == "single" else [])]
    async with host(
        FACTORY, names, env=environment(postgres, redis, nats), grace=cfg.grace
    ) as proc:
        yield sf.Handle(
            url=proc.url, host=proc.host, port=proc.port, pid=proc.pid, mode=mode, agents=cfg.agents
        )


@sf.service
async def agents(
    postgres: sf.Handle,
    redis: sf.Handle,
    nats: sf.Handle,
    api_gateway: sf.Handle,
    ctx: sf.ServiceContext,
) -> AsyncIterator[sf.Handle]:
    """The agents: hosted by the gateway's process in single mode, one process each in multi."""
    names = agent_names(api_gateway.agents)
    if api_gateway.mode == "single":
        yield sf.Handle(
            count=len(names),
            mode="single",
            names=names,
            pids=[api_gateway.pid],
            urls=[api_gateway.url],
            endpoint=f"{len(names)} in api_gateway's process",
        )
        return
    env = environment(postgres, redis, nats)
    hosts = [host(FACTORY, [n], env=env, port=ctx.new_port()) for n in names]
    async with sf.together(*hosts) as procs:
        yield sf.Handle(
            count=len(names),
            mode="multi",
            names=names,
            pids=[p.pid for p in procs],
            urls=[p.url for p in procs],
            endpoint=" ".join(p.url for p in procs),
        )
