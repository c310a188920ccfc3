"""The component host process: `python -m stackfixtures.kinds.host --factory mod:fn
--component NAME [--component NAME ...] --port PORT`. Serves them with uvicorn; SIGTERM or
SIGINT stops accepting, finishes in-flight requests, then shuts components down in reverse."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..kind_api import import_object
from .components import build_app


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="stackfixtures.kinds.host", description=__doc__)
    ap.add_argument("--factory", required=True, help="module:function returning the components")
    ap.add_argument("--component", action="append", required=True, dest="components")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--grace", type=float, default=10.0)
    args = ap.parse_args(argv)

    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout
    )
    factory = import_object(args.factory, root=Path.cwd())
    parts = factory(args.components)
    app = build_app(parts, title=", ".join(args.components))
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        lifespan="on",
        timeout_graceful_shutdown=int(args.grace),
        log_config=None,
        access_log=False,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
