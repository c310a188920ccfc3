"""A client's connection to a launcher's control socket (a Unix stream socket).

Made from `_socket`, the C module the `socket` module wraps, which has every method a client
uses (settimeout, connect, sendall, recv, close): `import socket` also builds its enums from
every constant of the platform, and imports selectors and array for file objects and sendfile,
which no client here uses. That costs an operating command (`stack status`, `env`, `logs`)
about 3 ms: a tenth of a bare interpreter's start-up. The server (_control/http.py) is
asyncio's, which imports `socket` anyway.
"""

from __future__ import annotations

import _socket
import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def connected(path: str, timeout: float) -> Iterator[_socket.socket]:
    """A stream connected to the Unix socket at `path` (blocking, `timeout` seconds for the
    connection and each operation until changed), closed on leaving. OSError when nothing
    listens there (FileNotFoundError, ConnectionRefusedError); TimeoutError on a timeout."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        yield sock
    finally:
        sock.close()
