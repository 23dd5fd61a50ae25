"""One training run for the whole fleet, on PostgreSQL: two advisory locks.

The *run lock* is held by the training process itself, on a connection it keeps open for the
whole run: when the process dies, however it dies, its connection closes and the database
frees the lock. "Is a run going?" is then "is the run lock held?", answered by any replica.

The *start lock* (transaction-scoped) makes "none going? then start one" atomic across
replicas: a starter holds it, in one transaction, until its child holds the run lock.

On SQLite (one machine) jobs.py keeps the file lock and the child's pid instead.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

# Two-integer advisory keys (pg_locks shows them as classid, objid); the first is "mnis".
_KEY_SPACE = 0x6D6E6973
START_LOCK = (_KEY_SPACE, 1)
RUN_LOCK = (_KEY_SPACE, 2)
HOLDER_TIMEOUT_S = 120  # a child that has not taken the run lock by then is not starting


def take_start_lock(connection: sa.Connection) -> None:
    """Wait for the start lock; it is released when ``connection``'s transaction ends."""
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(*START_LOCK)))


def run_lock_holder(connection: sa.Connection) -> int | None:
    """The server process id of the session holding the run lock, or None when it is free."""
    return connection.execute(
        sa.text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = :classid AND objid = :objid AND objsubid = 2 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"classid": RUN_LOCK[0], "objid": RUN_LOCK[1]},
    ).scalar()


def hold_run_lock(engine: sa.Engine) -> sa.Connection:
    """Take the run lock on a connection of its own (the training process' side), waiting if
    a starter is looking at it; the caller keeps the connection open for the whole run."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    connection.execute(sa.select(sa.func.pg_advisory_lock(*RUN_LOCK)))
    return connection


def await_holder(connection: sa.Connection, child_exited, timeout_s: float = HOLDER_TIMEOUT_S):
    """Wait until a process holds the run lock (True), or ``child_exited()`` or the timeout
    says it never will (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if run_lock_holder(connection) is not None:
            return True
        if child_exited():
            return False
        time.sleep(0.05)
    return False


def end_holder(connection: sa.Connection, holder: int) -> None:
    """End the server session of a holder that stopped answering (its machine gone without
    closing the connection), so that the lock is free now, not after TCP gives up (hours)."""
    connection.execute(sa.select(sa.func.pg_terminate_backend(holder)))
