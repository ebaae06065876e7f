"""A throwaway PostgreSQL server for the test suite.

``PostgresServer`` runs ``initdb`` into a fresh temporary directory and starts a private
postmaster on 127.0.0.1 with a free port, tuned for speed rather than durability. Use it as a
context manager (or call :meth:`start` / :meth:`stop`)::

    with PostgresServer() as pg:
        pg.create_database("app")
        engine = create_engine(pg.url("app"))

PostgreSQL refuses to run as root, so when the tests run as root (as CI does) ``initdb``,
``pg_ctl`` and the server run as the ``postgres`` system user through ``runuser``, and the
temporary directory is handed to that user.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

SUPERUSER = "postgres"
SYSTEM_USER = "postgres"

# Durability is pointless for a server that lives for one test session.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "'128MB'",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}

START_TIMEOUT_S = 60
START_ATTEMPTS = 3


class PostgresServerError(RuntimeError):
    """The server could not be set up, started or stopped."""


def find_bindir() -> Path:
    """Directory holding ``initdb`` and ``pg_ctl``: the newest Debian cluster version wins."""

    def version_key(path: str) -> tuple[int, ...]:
        version = Path(path).parent.parent.name
        return tuple(int(part) for part in re.findall(r"\d+", version))

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version_key)
    if candidates:
        return Path(candidates[-1]).parent

    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        bindir = Path(result.stdout.strip())
        if result.returncode == 0 and (bindir / "initdb").is_file():
            return bindir

    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).parent

    raise PostgresServerError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; "
        "install them with `make test-deps` (Debian package `postgresql`)"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_system_user(name: str = SYSTEM_USER) -> pwd.struct_passwd:
    """The account the server runs as under root; created if the system lacks it."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/bin/false", name],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(name)


class PostgresServer:
    """A private PostgreSQL server in a temporary directory, stopped and removed on exit."""

    def __init__(self, bindir: Path | str | None = None) -> None:
        self.bindir = Path(bindir) if bindir is not None else find_bindir()
        self._port: int | None = None
        self._tmpdir: Path | None = None
        self._run_as: pwd.struct_passwd | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._port is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise PostgresServerError("PostgreSQL server is not running")
        return self._port

    @property
    def tmpdir(self) -> Path:
        if self._tmpdir is None:
            raise PostgresServerError("PostgreSQL server has not been set up")
        return self._tmpdir

    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "postgres.log"

    def start(self) -> None:
        """Create the cluster and start the server; raises with the server log on failure."""
        if self._tmpdir is not None:
            raise PostgresServerError("PostgreSQL server already started")
        self._run_as = ensure_system_user() if os.geteuid() == 0 else None
        self._tmpdir = Path(tempfile.mkdtemp(prefix="chainsleuth-pg-"))
        atexit.register(self.stop)
        try:
            if self._run_as is not None:
                os.chown(self._tmpdir, self._run_as.pw_uid, self._run_as.pw_gid)
            self._initdb()
            self._start_server()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory. Safe to call twice."""
        tmpdir, self._tmpdir = self._tmpdir, None
        self._port = None
        atexit.unregister(self.stop)
        if tmpdir is None:
            return
        try:
            if (tmpdir / "data" / "postmaster.pid").exists():
                pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(tmpdir / "data"), "-w"]
                stopped = self._run([*pg_ctl, "-m", "fast", "-t", "30", "stop"], cwd=tmpdir)
                if stopped.returncode != 0:
                    self._run([*pg_ctl, "-m", "immediate", "stop"], cwd=tmpdir)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    # -- connections -----------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for a database on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str) -> str:
        """libpq connection URI, for psycopg or psql."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def connect(
        self, dbname: str = "postgres", *, autocommit: bool = False
    ) -> psycopg.Connection[TupleRow]:
        """A psycopg connection to ``dbname`` as the superuser."""
        return psycopg.connect(self.dsn(dbname), autocommit=autocommit)

    def create_database(self, name: str, template: str | None = None) -> None:
        """``CREATE DATABASE name [TEMPLATE template]``; other sessions on the template end."""
        with self.connect(autocommit=True) as conn:
            if template is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            else:
                self._terminate_backends(conn, template)
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name`` after ending every other session on it."""
        with self.connect(autocommit=True) as conn:
            self._terminate_backends(conn, name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    @staticmethod
    def _terminate_backends(conn: psycopg.Connection[TupleRow], dbname: str) -> None:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )

    # -- internals -------------------------------------------------------------------------

    def _run(self, argv: Sequence[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the ``postgres`` user when we are root."""
        if self._run_as is not None:
            argv = ["runuser", "-u", self._run_as.pw_name, "--", *argv]
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        for var in ("PGHOST", "PGPORT", "PGDATA", "PGUSER", "PGDATABASE", "PGSERVICE"):
            env.pop(var, None)
        if self._run_as is not None:
            env["HOME"] = str(cwd)
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )

    def _initdb(self) -> None:
        base = [
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
        result = self._run([*base, "--locale=C.UTF-8"], cwd=self.tmpdir)
        if result.returncode != 0:
            # A system without the C.UTF-8 locale still has plain C.
            shutil.rmtree(self.datadir, ignore_errors=True)
            result = self._run([*base, "--locale=C"], cwd=self.tmpdir)
        if result.returncode != 0:
            raise PostgresServerError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.tmpdir}'"}
        with (self.datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# chainsleuth test harness\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _start_server(self) -> None:
        # The free port may be taken by someone else before the server binds it: retry.
        failure = ""
        for _ in range(START_ATTEMPTS):
            port = free_port()
            result = self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-o",
                    f"-p {port}",
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                ],
                cwd=self.tmpdir,
            )
            if result.returncode == 0:
                self._port = port
                return
            log = self._read_log()
            failure = (
                f"pg_ctl start failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n--- server log {self.logfile} ---\n{log}"
            )
            # Make sure a half-started server is gone before the next attempt.
            self._run(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
                cwd=self.tmpdir,
            )
            if "could not bind" not in log and "could not create any TCP/IP" not in log:
                break
        raise PostgresServerError(failure)

    def _read_log(self) -> str:
        with contextlib.suppress(OSError):
            return self.logfile.read_text(encoding="utf-8", errors="replace")
        return "(no server log)"
