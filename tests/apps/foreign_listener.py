"""A program that does not listen itself but starts, outside its process group and without
stackfixtures' markers, a server on --port: what a service looks like whose port is answered by
somebody else. The server's pid goes to --pidfile (the test stops it by pid)."""

from __future__ import annotations

import argparse
import os
import sys
import time

SERVER = (
    "import socket, time; s = socket.socket(); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(600)"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pidfile", required=True)
    a = ap.parse_args()
    if os.fork() == 0:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            os.execve(sys.executable, [sys.executable, "-c", SERVER.format(port=a.port)], {})
        with open(a.pidfile, "w") as f:
            f.write(str(pid))
        os._exit(0)
    os.wait()
    print("started a foreign server", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
