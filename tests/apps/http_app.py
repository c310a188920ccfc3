"""A tiny real HTTP server used by the tests: /health, /env/NAME, and configurable misbehaviour.

Usage: python http_app.py --port PORT [--ignore-term] [--fail-after-start] [--grandchild PIDFILE]
       [--delay SECONDS] [--crash] [--serve-file PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SERVED = {"file": ""}  # --serve-file: the content read at start (a restart reads it again)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/file":
            body = json.dumps({"content": SERVED["file"]}).encode()
        elif self.path == "/health":
            body = json.dumps({"ok": True, "pid": os.getpid()}).encode()
        elif self.path.startswith("/env/"):
            body = json.dumps({"value": os.environ.get(self.path[5:])}).encode()
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        print("request:", fmt % args, flush=True)


def daemonize(pidfile: str) -> None:
    """The classic double fork: the daemon leaves our session and process group."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(pidfile, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)
            os._exit(0)
        os._exit(0)
    os.wait()
    while not os.path.exists(pidfile) or not Path(pidfile).read_text():
        time.sleep(0.01)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ignore-term", action="store_true")
    ap.add_argument("--crash", action="store_true", help="exit 3 right away")
    ap.add_argument("--crash-if-exists", help="exit 3 right away if this file exists")
    ap.add_argument("--exit-after", type=float, help="exit on its own after this many seconds")
    ap.add_argument("--exit-code", type=int, default=0, help="with --exit-after")
    ap.add_argument("--delay", type=float, default=0.0, help="sleep before listening")
    ap.add_argument("--grandchild", help="start a sleeping grandchild, write its pid here")
    ap.add_argument("--daemon", help="double-fork a daemon that leaves the group; pid here")
    ap.add_argument("--serve-file", help="read this file now and serve its content at /file")
    a = ap.parse_args()
    print(f"http_app starting pid={os.getpid()}", flush=True)
    if a.serve_file:
        SERVED["file"] = Path(a.serve_file).read_text()
    if a.crash or (a.crash_if_exists and os.path.exists(a.crash_if_exists)):
        print("http_app: crashing on purpose", flush=True)
        sys.exit(3)
    if a.exit_after is not None:
        threading.Timer(a.exit_after, lambda: os._exit(a.exit_code)).start()
    if a.ignore_term:
        signal.signal(signal.SIGTERM, lambda *_: print("http_app: ignoring SIGTERM", flush=True))
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if a.grandchild:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(a.grandchild, "w") as f:
            f.write(str(child.pid))
    if a.daemon:
        daemonize(a.daemon)
    time.sleep(a.delay)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"http_app listening on 127.0.0.1:{a.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        print("http_app stopped", flush=True)


if __name__ == "__main__":
    main()
