"""`stack dashboard`'s loop: serve the dashboard of a running stack until Ctrl-C, SIGTERM or
the stack's end."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from .._engine.tasks import cancel_and_wait
from ..errors import NotRunning
from .server import Dashboard, is_loopback

WATCH_EVERY = 2.0
"""Seconds between looks whether the stack still runs."""


def serve(board: Dashboard, host: str, say: Callable[[str], None]) -> str:
    """Serve until stopped; why it stopped, in words."""
    try:
        return asyncio.run(_serve(board, host, say))
    finally:
        board.verbs.close()


async def _serve(board: Dashboard, host: str, say: Callable[[str], None]) -> str:
    stop = asyncio.Event()
    why = "stopped"
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        nonlocal why
        why = f"{signal.Signals(signum).name}: the dashboard stopped (the stack runs on)"
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    async with board:
        if not is_loopback(host):
            say(
                f"warning: serving on {host}, not loopback: whoever reaches it with the token "
                "can stop and kill the stack's services"
            )
        say(f"dashboard: {board.url}")
        say("Ctrl-C stops the dashboard (not the stack)")
        watching = asyncio.ensure_future(_until_gone(board))
        stopping = asyncio.ensure_future(stop.wait())
        serving = board.serving
        assert serving is not None
        try:
            await asyncio.wait({watching, stopping, serving}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(watching, stopping)
        if watching.done() and not watching.cancelled() and watching.exception() is None:
            why = watching.result()
        failed = serving.exception() if serving.done() and not serving.cancelled() else None
        if failed is not None:
            raise failed
    return why


async def _until_gone(board: Dashboard) -> str:
    """Returns once the stack no longer answers: what to say."""
    while True:
        await asyncio.sleep(WATCH_EVERY)
        try:
            await board.verbs.status()
        except (OSError, NotRunning):
            return "the stack went away: the dashboard stopped"
