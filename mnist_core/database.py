"""The one database of shared state: its URL, one engine per URL and process, and the schema.

``$MNIST_DATABASE_URL`` (any SQLAlchemy URL) names it; unset, it is a SQLite file in the app
home, so one machine needs nothing installed or running. With ``postgresql+psycopg://...``
every replica of the app shares it.

The app creates and migrates the schema itself: ``schema_version`` holds the number of
migrations applied, and each migration runs in one transaction with that number, under a lock
(PostgreSQL: a transaction-scoped advisory lock; SQLite: ``BEGIN IMMEDIATE``), so replicas
starting together apply each migration exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from .config import APP_HOME, DATABASE_URL

DEFAULT_FILE = "app.sqlite"  # in the app home, beside the runs
BUSY_TIMEOUT_S = 30  # how long a SQLite write waits for another's before it gives up
CONNECT_TIMEOUT_S = 5  # how long a connection to a database server may take
# pg_advisory_xact_lock key serialising migrations across replicas ("mnist" as an integer).
MIGRATION_LOCK = 0x6D6E697374
_READ_ONLY = "mnist_read_only"  # execution option of reading()'s connections

metadata = sa.MetaData()

corrections = sa.Table(
    "corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("predicted", sa.Integer),
    sa.Column("label", sa.Integer, sa.CheckConstraint("label BETWEEN 0 AND 9"), nullable=False),
    sa.Column("model_input", sa.LargeBinary, nullable=False),  # (28, 28) uint8, x255
    sa.Column("original", sa.LargeBinary),  # PNG, at most 512 px
)

# The model registry (registry.py): one row per training run, its live progress and its final
# record as JSON, the heartbeat of the process training it and the fleet's cancel request.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("progress", sa.Text),  # JSON: status, phase, epoch, history...
    sa.Column("record", sa.Text),  # JSON: config, curves, test accuracy; set when it ends
    sa.Column("heartbeat_at", sa.Float),  # Unix time of the training process' last sign of life
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
)
# A completed run's files: "onnx" (what the app serves), "keras" (the training format). Written
# once, with the record, in the transaction that completes the run; never changed after.
model_files = sa.Table(
    "model_files",
    metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("sha256", sa.Text, nullable=False),  # what replicas cache the file by
    sa.Column("content", sa.LargeBinary, nullable=False),
)
# One row (slot 1): the run whose model every replica serves ("bundled": the shipped one).
active_model = sa.Table(
    "active_model",
    metadata,
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
)
# One row (slot 1) once a run has started: the latest run and the process training it.
training = sa.Table(
    "training",
    metadata,
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False),  # the machine (replica) it runs on
    sa.Column("pid", sa.Integer, nullable=False),
)
ONE_ROW = 1  # the slot of the one-row tables

schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)


def _create(*tables: sa.Table) -> Callable[[sa.Connection], None]:
    def migrate(connection: sa.Connection) -> None:
        metadata.create_all(connection, tables=list(tables))

    return migrate


def _create_registry(connection: sa.Connection) -> None:
    metadata.create_all(connection, tables=[runs, model_files, active_model, training])
    connection.execute(active_model.insert().values(slot=ONE_ROW, run_id="bundled"))


# Applied in order, each once; a database at version N has had the first N. Append, never edit:
# a deployed database already ran the ones above.
MIGRATIONS: list[Callable[[sa.Connection], None]] = [
    _create(corrections),
    _create_registry,
]


def database_url(location: str | Path | None = None) -> str:
    """``location`` as a SQLAlchemy URL: None is the app's database ($MNIST_DATABASE_URL, else
    the SQLite file in the app home); a path is a SQLite file; a URL is itself."""
    if location is None:
        location = DATABASE_URL.value() or Path(APP_HOME.value()) / DEFAULT_FILE
    text = str(location)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


# What using the database raises when it cannot be used now: a server down or refusing us, or
# (SQLite) a file or folder that cannot be made. Pages catch these to keep drawing working.
UNAVAILABLE = (OSError, sa.exc.SQLAlchemyError)

_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def engine(location: str | Path | None = None) -> sa.Engine:
    """The process's engine for ``location`` (see :func:`database_url`), its schema current.

    One per URL: the app's sessions are threads sharing its connection pool."""
    url = database_url(location)
    with _engines_lock:
        if url not in _engines:
            created = _create_engine(url)
            migrate(created)
            _engines[url] = created
        return _engines[url]


def is_sqlite(bound: sa.Engine | sa.Connection) -> bool:
    return bound.dialect.name == "sqlite"


def _create_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pool_pre_ping: a connection the server closed (a restart) is replaced, not an error.
        # connect_timeout: a server that does not answer fails a page in seconds, not minutes.
        return sa.create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    created = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @sa.event.listens_for(created, "connect")
    def _connect(dbapi_connection, _record):
        # Python's sqlite3 begins transactions lazily, after reads; SQLAlchemy's own BEGIN
        # (below) makes every transaction start where the code says it does.
        dbapi_connection.isolation_level = None
        _use_write_ahead_log(dbapi_connection)
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint

    @sa.event.listens_for(created, "begin")
    def _begin(connection):
        # A writer's IMMEDIATE takes the write lock at once: two writers wait for each other
        # (the busy timeout) instead of both reading, then one failing to upgrade ("database
        # is locked"). A reader's deferred BEGIN takes no lock: WAL readers never wait.
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return created


def _use_write_ahead_log(dbapi_connection) -> None:
    """Put the database in WAL mode (readers never wait for the writer), which the file keeps.

    Switching needs the file to itself, and SQLite fails at once rather than wait (the busy
    timeout does not cover it): sessions opening a new database together would lose writes to
    "database is locked". So switch only when not yet in WAL, and retry while others hold it.
    """
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return  # switched; or a file system without WAL keeps the (safe) rollback journal
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def now(bound: sa.Engine | sa.Connection) -> sa.ColumnElement[float]:
    """The database's clock in Unix seconds, as SQL: every replica's heartbeat is written and
    judged by this one clock, whatever the machines' own say."""
    if is_sqlite(bound):
        return sa.literal_column("(julianday('now') - 2440587.5) * 86400.0", sa.Float)
    return sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Float)


@contextmanager
def reading(bound: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads: one transaction (its statements see one state), rolled back at
    the end; on SQLite it takes no write lock."""
    with bound.connect() as connection:
        yield connection.execution_options(**{_READ_ONLY: True})


def migrate(bound: sa.Engine) -> int:
    """Apply the migrations this database has not had; return its version."""
    with bound.begin() as connection:
        if not is_sqlite(connection):
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        metadata.create_all(connection, tables=[schema_version])
        version = connection.execute(sa.select(schema_version.c.version)).scalar()
        if version is None:
            connection.execute(schema_version.insert().values(version=0))
            version = 0
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"the database is at schema version {version}, newer than this code "
                f"({len(MIGRATIONS)}): upgrade the app"
            )
        for migration in MIGRATIONS[version:]:
            migration(connection)
        connection.execute(schema_version.update().values(version=len(MIGRATIONS)))
    return len(MIGRATIONS)
