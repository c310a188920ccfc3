"""Just enough of PostgreSQL's protocol (v3) to tell whether our own server is up: a startup
(trust or SCRAM-SHA-256 authentication: what the kind's initdb sets up) and one simple query,
on one connection.

Hand-written on purpose, as kinds/resp.py is for Redis: psycopg takes longer to import than the
server takes to start (~70 ms against ~25 ms warm), so a probe that needs it is the slowest step
of a warm start. psycopg is still what everything else uses (creating a database, templates,
per-test databases, an external server's probe).
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from dataclasses import dataclass, field

PROTOCOL = 196608  # 3.0
MAX_MESSAGE = 1 << 20
"""The longest message read (a probe's answers are a few hundred bytes)."""
SALTED: dict[tuple[str, bytes, int], bytes] = {}
"""SCRAM's salted password per (password, salt, iterations): PBKDF2 once per server, not per
connection."""


@dataclass
class Answer:
    """What the server said: its parameters (`server_version`, ...), the rows of the query (each
    column as text) and, when it refused, its error's fields (`C` the SQLSTATE, `M` the
    message: see `refusal`)."""

    parameters: dict[str, str] = field(default_factory=dict)
    rows: list[list[str | None]] = field(default_factory=list)
    error: dict[str, str] | None = None

    @property
    def refusal(self) -> str:
        """The error in the server's words (`FATAL 57P03: the database system is starting
        up`), "" when there was none."""
        if self.error is None:
            return ""
        e = self.error
        return f"{e.get('V', e.get('S', 'ERROR'))} {e.get('C', '?')}: {e.get('M', '')}"


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _strings(data: bytes) -> list[str]:
    return data.decode(errors="replace").split("\0")


def _fields(data: bytes) -> dict[str, str]:
    """An ErrorResponse's or NoticeResponse's fields: {code letter: text}."""
    return {part[:1]: part[1:] for part in _strings(data) if part}


class _Scram:
    """SCRAM-SHA-256 (RFC 7677) without channel binding, as libpq does it over plain TCP. (Its
    modules are imported here: a server without a password needs none of them.)"""

    def __init__(self, password: str) -> None:
        import base64
        import secrets

        self.password = password
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.expected = b""

    def first(self) -> bytes:
        data = f"n,,{self.first_bare}".encode()
        return b"SCRAM-SHA-256\0" + struct.pack("!i", len(data)) + data

    def final(self, server_first: bytes) -> bytes:
        import base64
        import hmac

        said = dict(part.split("=", 1) for part in server_first.decode().split(","))
        if not said["r"].startswith(self.nonce):
            raise ConnectionError("SCRAM: the server's nonce does not extend ours")
        salt, rounds = base64.b64decode(said["s"]), int(said["i"])
        key = (self.password, salt, rounds)
        if key not in SALTED:
            SALTED[key] = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, rounds)
        salted = SALTED[key]
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={said['r']}"
        auth = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.expected = hmac.digest(server_key, auth, "sha256")
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check(self, server_final: bytes) -> None:
        import base64
        import hmac

        said = dict(part.split("=", 1) for part in server_final.decode().split(","))
        if not hmac.compare_digest(base64.b64decode(said.get("v", "")), self.expected):
            raise ConnectionError("SCRAM: the server's signature is wrong")


async def query(
    host: str, port: int, user: str, dbname: str, password: str | None, sql: str
) -> Answer:
    """Connect as `user` to `dbname`, run `sql` (the simple protocol: no parameters), close.
    A refusal (the server starting up, a database that does not exist, a wrong password) is
    the Answer's `error`; a connection that fails or closes early raises OSError."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        startup = f"user\0{user}\0database\0{dbname}\0\0".encode()
        writer.write(struct.pack("!ii", len(startup) + 8, PROTOCOL) + startup)
        await writer.drain()
        answer = Answer()
        scram: _Scram | None = None
        sent = False
        while True:
            kind = await reader.readexactly(1)
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            if not 4 <= length <= MAX_MESSAGE:  # (what listens there may not be our server)
                raise ConnectionError(f"not PostgreSQL's protocol: a message of {length} bytes")
            body = await reader.readexactly(length - 4)
            if kind == b"E":
                answer.error = _fields(body)
                return answer
            if kind == b"R":
                (code,) = struct.unpack("!i", body[:4])
                if code == 10:
                    if password is None or "SCRAM-SHA-256" not in _strings(body[4:]):
                        raise ConnectionError(f"unsupported authentication {_strings(body[4:])}")
                    scram = _Scram(password)
                    writer.write(_message(b"p", scram.first()))
                elif code == 11 and scram is not None:
                    writer.write(_message(b"p", scram.final(body[4:])))
                elif code == 12 and scram is not None:
                    scram.check(body[4:])
                elif code != 0:
                    raise ConnectionError(f"unsupported authentication request {code}")
            elif kind == b"S":
                name, value = _strings(body)[:2]
                answer.parameters[name] = value
            elif kind == b"D":
                answer.rows.append(_row(body))
            elif kind == b"Z":
                if sent:
                    return answer
                writer.write(_message(b"Q", sql.encode() + b"\0"))
                sent = True
            await writer.drain()
    except asyncio.IncompleteReadError as e:
        raise ConnectionResetError("the server closed the connection") from e
    except (struct.error, ValueError, KeyError, UnicodeError) as e:  # (a garbled answer)
        raise ConnectionError(f"not PostgreSQL's protocol: {type(e).__name__}: {e}") from e
    finally:
        if not writer.is_closing():
            writer.write(_message(b"X", b""))
        writer.close()


def _row(body: bytes) -> list[str | None]:
    (count,) = struct.unpack("!h", body[:2])
    at, row = 2, list[str | None]()
    for _ in range(count):
        (size,) = struct.unpack("!i", body[at : at + 4])
        at += 4
        if size < 0:
            row.append(None)
        else:
            row.append(body[at : at + size].decode(errors="replace"))
            at += size
    return row
