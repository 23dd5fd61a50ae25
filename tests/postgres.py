"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary
folder, a free localhost port, stopped and deleted at the end.

The tests that need it skip with the reason when the binaries are missing, except under
REQUIRE_POSTGRES=1 (CI, which installs the `postgresql` package), where they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from browser import free_port

# Debian installs the server under a versioned folder, off PATH; a source build puts it on PATH.
_SEARCH = ["/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"]
DATABASE = "mnist"


def postgres_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (the newest version), or None."""
    for pattern in _SEARCH:
        for folder in sorted(glob.glob(pattern), reverse=True):
            if all((Path(folder) / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
                return Path(folder)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _as_server_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run them as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass(frozen=True)
class Server:
    """A running throwaway cluster: its URL, and how to stop and start it again (a database
    that goes down mid-test)."""

    url: str
    pg_ctl: list[str]  # the command with the cluster's data folder
    options: str  # the server's own: port, socket folder
    log: Path

    def stop(self) -> None:
        subprocess.run(
            _as_server_user([*self.pg_ctl, "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        subprocess.run(
            _as_server_user([*self.pg_ctl, "-o", self.options, "-l", str(self.log), "-w", "start"]),
            check=True,
            capture_output=True,
            timeout=120,
        )


@contextlib.contextmanager
def throwaway_postgres():
    """Start a cluster with one database; yield its :class:`Server` (``.url``: SQLAlchemy's
    ``postgresql+psycopg`` URL)."""
    binaries = postgres_binaries()
    if binaries is None:
        raise FileNotFoundError("no PostgreSQL server binaries (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="mnist-postgres-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_server_user(
            [str(binaries / "initdb"), "-D", str(data), "-U", "mnist", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    # Unix sockets in the cluster's own folder: the system's /var/run/postgresql may not exist.
    server = Server(
        f"postgresql+psycopg://mnist@127.0.0.1:{port}/{DATABASE}",
        [str(binaries / "pg_ctl"), "-D", str(data)],
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
        folder / "log",
    )
    server.start()
    try:
        subprocess.run(
            _as_server_user(
                [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mnist"]
                + [DATABASE]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def require_postgres() -> None:
    """Skip the calling test (fail it under CI's REQUIRE_POSTGRES=1) without the binaries."""
    import pytest

    if postgres_binaries() is None:
        message = "no PostgreSQL server binaries: apt-get install postgresql"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def emptied(url: str) -> str:
    """Every row of the app's tables deleted, the active model back to the bundled one: a new
    database for the next test in the same server (a new cluster per test would cost seconds)."""
    from mnist_core import database

    with database.engine(url).begin() as connection:
        for table in reversed(database.metadata.sorted_tables):
            if table is not database.schema_version:
                connection.execute(table.delete())
        connection.execute(
            database.active_model.insert().values(slot=database.ONE_ROW, run_id="bundled")
        )
    return url
