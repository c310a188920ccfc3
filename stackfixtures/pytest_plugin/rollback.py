"""The transactional per-test fixture's pieces (`<server>_tx`): one database per session (and
xdist worker), cloned from the server's template, and one connection to it whose work in each
test is rolled back afterwards. Code under test that commits or rolls back is given savepoints
instead, so its own transaction logic still runs; `with conn.transaction():` blocks are
savepoints, the outermost one committing (to the test's transaction) when it ends well.

Imported only when a test asks for the fixture: it needs psycopg."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import Transaction

from ..kinds.postgres import dsn, owners

SAVEPOINT = "stackfixtures_test"
CONNECT = 5  # seconds a connection may take (a paused server: an error, not a hang)
NESTED = "Explicit {0}() forbidden within a Transaction context"  # psycopg's own rule


class RollbackConnection(psycopg.Connection[Any]):
    """A psycopg connection whose work in a test is undone at the test's end: commit() and
    rollback() move a savepoint, close() waits for the end of the test."""

    _in_test = False

    def begin_test(self) -> None:
        self._in_test = True
        self.execute(f"SAVEPOINT {SAVEPOINT}")  # also opens the test's transaction

    def end_test(self) -> None:
        self._in_test = False
        if not (self.closed or self.broken):
            super().rollback()

    def commit(self) -> None:
        if not self._in_test:
            return super().commit()
        if self._num_transactions:
            raise psycopg.ProgrammingError(NESTED.format("commit"))
        self.execute(f"RELEASE SAVEPOINT {SAVEPOINT}; SAVEPOINT {SAVEPOINT}")

    def rollback(self) -> None:
        if not self._in_test:
            return super().rollback()
        if self._num_transactions:
            raise psycopg.ProgrammingError(NESTED.format("rollback"))
        self.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")

    @contextmanager
    def transaction(
        self, savepoint_name: str | None = None, force_rollback: bool = False
    ) -> Iterator[Transaction]:
        """psycopg's block (a savepoint here, the test's transaction being open); the
        outermost one commits when it ends well, as it would on its own connection."""
        outermost = self._in_test and not self._num_transactions
        with super().transaction(savepoint_name, force_rollback) as block:
            yield block
        if outermost and not force_rollback:
            self.commit()

    def close(self) -> None:
        if not self._in_test:  # the test's `with conn:` or close(): the fixture closes it
            super().close()


class TxDatabase:
    """One database cloned from the server's template for a session's transactional tests."""

    def __init__(self, server: Any, template: str | None) -> None:
        self.server_dsn = str(server.dsn)
        self.name = owners.new_name("tx")
        template = template or "template1"
        password = server.as_dict().get("password") if hasattr(server, "as_dict") else None
        self.url = dsn(server.host, server.port, server.user, self.name, password)
        with psycopg.connect(self.server_dsn, autocommit=True, connect_timeout=CONNECT) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}"')
        self._conn: RollbackConnection | None = None

    def connection(self) -> RollbackConnection:
        """The session's connection, opened again if a test broke it."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = RollbackConnection.connect(self.url, connect_timeout=CONNECT)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):  # a connection a test broke: dropped below
                self._conn.end_test()
            self._conn.close()
        with psycopg.connect(self.server_dsn, autocommit=True, connect_timeout=CONNECT) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
