"""A tiny real gRPC server for the grpc probe's tests, with the standard health service.

Usage: python grpc_health_app.py --port PORT [--serving-when PATH] [--not-serving-when PATH]
       [--no-health] [--service NAME]

Its health (the server's overall, and --service NAME's) is NOT_SERVING until the file
--serving-when names exists (at once when not given), and NOT_SERVING again while the file
--not-serving-when names exists: the test says when, by a file, never by a delay. With
--no-health the server has no health service at all (its Check is UNIMPLEMENTED). Prints
"listening on PORT" once the server accepts calls; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def status_now(serving_when: str, not_serving_when: str) -> int:
    """The health the files say now."""
    if serving_when and not Path(serving_when).exists():
        return NOT_SERVING
    if not_serving_when and Path(not_serving_when).exists():
        return NOT_SERVING
    return SERVING


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--serving-when", default="")
    parser.add_argument("--not-serving-when", default="")
    parser.add_argument("--no-health", action="store_true")
    parser.add_argument("--service", default="")
    args = parser.parse_args()

    server = grpc.server(futures.ThreadPoolExecutor(4))
    servicer = health.HealthServicer()
    if not args.no_health:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    names = ["", *([args.service] if args.service else [])]
    shown = -1
    server.start()
    print(f"listening on {args.port}", flush=True)
    while not stop.is_set():
        now = status_now(args.serving_when, args.not_serving_when)
        if now != shown:
            for name in names:
                servicer.set(name, now)
            print(f"health {health_pb2.HealthCheckResponse.ServingStatus.Name(now)}", flush=True)
            shown = now
        stop.wait(0.02)
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
