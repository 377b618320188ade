"""A throwaway PostgreSQL server for the tests: no service to start by hand, nothing outside a temp folder.

Debian's server (``pg_config --bindir``, /usr/lib/postgresql/15/bin) refuses to run as root, and CI runs
as root: there ``initdb`` and ``pg_ctl`` run as the ``postgres`` system user through ``runuser``; as any
other user they run directly. The cluster lives in its own temporary folder (owned by whoever runs the
server), listens on 127.0.0.1 at a free port and on a unix socket in that folder, and trusts every local
connection (user ``postgres``, no password).

    server = PostgresServer().start()
    url = server.create_database("t1")   # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
    ...
    server.drop_database("t1"); server.stop()

``initdb`` is the slow part of a start (it builds template1 and the catalogues), so one initdb'd cluster
is kept per server version in the system's temp folder and copied for every server (see
:func:`_template_cluster`; the times are in the module's measurements below).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.app_server import free_port

SUPERUSER = "postgres"
# Throwaway test data: no crash safety needed, so no fsync, no waiting for the WAL flush on commit and
# no full pages in the WAL. Measured on this 2-core machine (2026-12-08, /tmp on a virtual disk whose fsync
# is cheap): 300 autocommitted INSERTs 0.030 s with these against 0.061 s with the defaults; on a real
# disk every commit would wait for its flush.
FAST_UNSAFE = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
# 3 replicas x SQLAlchemy's default pool (5 + 10 overflow) plus the tests' own connections stay under it.
MAX_CONNECTIONS = 200
# Database names this helper creates and drops: plain identifiers, so no quoting surprise ever.
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
INITDB_ARGS = ("-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")


def bindir() -> Path | None:
    """The folder of PostgreSQL's server programs: ``pg_config --bindir``, else Debian's newest version."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True)
        folder = Path(out.stdout.strip())
        if (folder / "postgres").is_file():
            return folder
    # pg_config may come from libpq-dev (the client's) and point elsewhere: Debian's layout is the fallback.
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
                        if p.parts[-3].isdigit() else 0)
    return candidates[-1].parent if candidates else None


def _as_root() -> bool:
    return os.geteuid() == 0


def available() -> str | None:
    """None when a server can be started here, else the reason it cannot (the tests skip, or fail on CI)."""
    folder = bindir()
    if folder is None:
        return "no PostgreSQL server found (pg_config --bindir, /usr/lib/postgresql/*/bin): apt-get install postgresql"
    for program in ("initdb", "pg_ctl", "postgres"):
        if not os.access(folder / program, os.X_OK):
            return f"{folder / program} is missing or not executable"
    if _as_root():
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root, and there is no 'postgres' system user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root, and runuser (util-linux) is missing"
    return None


def _run(argv: list[str], cwd: Path, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a server program as the user the server runs as (postgres when we are root)."""
    if _as_root():
        argv = ["runuser", "-u", SUPERUSER, "--", *argv]
    # cwd: the postgres user may not enter the caller's working directory (a root-owned checkout).
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)


def _own(path: Path) -> None:
    """Give ``path`` to the server's user (postgres when we are root; it is ours already otherwise)."""
    if _as_root():
        entry = pwd.getpwnam(SUPERUSER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _template_cluster(folder: Path) -> Path:
    """A freshly initdb'd, never started cluster, made once per server version and user and then copied.

    initdb takes 0.8-1.0 s on the 2-core machine and a copy of its result 0.07-0.09 s (2026-12-08), so every
    server of a test run (one per xdist worker) and every later run start from the copy. It lives in the
    system temp folder under a name made of the server's version and initdb's arguments (a new Debian
    point release makes a new one); a file lock lets one process build it while the others wait.
    """
    version = subprocess.run([str(folder / "postgres"), "--version"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
    key = hashlib.sha256(f"{version}|{folder}|{INITDB_ARGS}|{os.geteuid()}".encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"user-studio-pg-template-{key}"
    if (cache / "PG_VERSION").is_file():
        return cache
    with open(f"{cache}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (cache / "PG_VERSION").is_file():  # another process built it while we waited
                return cache
            work = Path(tempfile.mkdtemp(prefix=f"{cache.name}.building-", dir=cache.parent))
            _own(work)
            data = work / "data"
            done = _run([str(folder / "initdb"), "-D", str(data), *INITDB_ARGS], cwd=work, timeout_s=120)
            if done.returncode != 0:
                shutil.rmtree(work, ignore_errors=True)
                raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr or done.stdout}")
            # The cluster's own folder is renamed into place whole, so a reader sees all of it or nothing.
            data.rename(cache)
            shutil.rmtree(work, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return cache


class PostgresServer:
    """One throwaway PostgreSQL cluster: :meth:`start`, :meth:`create_database`, :meth:`url`, :meth:`stop`.

    ``port`` 0 picks a free one. The server stops at :meth:`stop`, on leaving a ``with`` block, and at the
    latest when the Python process exits (atexit); its folder is removed then.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", start_timeout_s: float = 60.0) -> None:
        self.port = port
        self.host = host
        self.start_timeout_s = start_timeout_s
        self.base: Path | None = None
        self.start_seconds: float | None = None  # how long the last start took (copy + server up)

    # -- life cycle -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.base is not None

    @property
    def data_dir(self) -> Path:
        if self.base is None:
            raise RuntimeError("the PostgreSQL server is not started")
        return self.base / "data"

    def start(self) -> PostgresServer:
        if self.running:
            return self
        reason = available()
        if reason is not None:
            raise RuntimeError(f"cannot start PostgreSQL: {reason}")
        folder = bindir()
        assert folder is not None
        began = time.monotonic()
        template = _template_cluster(folder)
        # The folder holds the cluster, its unix socket and its log; /tmp lets postgres reach it.
        base = Path(tempfile.mkdtemp(prefix="user-studio-pg-"))
        _own(base)
        self.base = base
        atexit.register(self.stop)
        # cp -a keeps the owner (postgres) and the 0700 mode the server insists on.
        subprocess.run(["cp", "-a", str(template), str(self.data_dir)], check=True, timeout=60)
        # A port that was free a moment ago may be taken when the server binds it (another worker):
        # pg_ctl then fails at once, and a new free port is tried.
        last = ""
        for attempt in range(3):
            port = self.port if self.port and attempt == 0 else free_port()
            done = self._launch(folder, port)
            if done.returncode == 0:
                self.port = port
                self.start_seconds = time.monotonic() - began
                return self
            last = f"{done.stdout}{done.stderr}{self.log_tail()}"
            self._stop_server()  # a half-started postmaster must not linger
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start: {last}")

    def _launch(self, folder: Path, port: int) -> subprocess.CompletedProcess[str]:
        """Start the postmaster on this cluster's data at ``port`` and wait until it accepts connections."""
        assert self.base is not None
        options = ["-c", f"listen_addresses={self.host}", "-p", str(port), "-k", str(self.base),
                   "-c", f"max_connections={MAX_CONNECTIONS}", *FAST_UNSAFE]
        return _run([str(folder / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.base / "server.log"),
                     "-w", "-t", str(int(self.start_timeout_s)), "-o", " ".join(options), "start"],
                    cwd=self.base, timeout_s=self.start_timeout_s + 10)

    def pause(self) -> None:
        """Stop the server as an administrator's restart does, keeping its data, port and folder: clients
        lose their connections and new ones are refused until :meth:`resume`. Fast mode (not immediate):
        with synchronous_commit off, an immediate stop could drop the last commits' WAL, which a real
        server (synchronous_commit on) never does, so it would fake a loss."""
        folder = bindir()
        if self.base is None or folder is None:
            raise RuntimeError("the PostgreSQL server is not started")
        done = _run([str(folder / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
                    cwd=self.base, timeout_s=60)
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not stop: {done.stdout}{done.stderr}{self.log_tail()}")

    def resume(self) -> PostgresServer:
        """Start a paused server again on the same data and port (its URLs stay valid)."""
        folder = bindir()
        if self.base is None or folder is None:
            raise RuntimeError("the PostgreSQL server is not started")
        done = self._launch(folder, self.port)
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not restart: {done.stdout}{done.stderr}{self.log_tail()}")
        return self

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log (for a failure's message)."""
        if self.base is None:
            return ""
        try:
            return (self.base / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _stop_server(self) -> None:
        """Stop the postmaster: immediate mode (the data is thrown away, nothing needs a clean shutdown)."""
        if self.base is None or not (self.data_dir / "postmaster.pid").exists():
            return
        folder = bindir()
        if folder is not None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _run([str(folder / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
                     cwd=self.base, timeout_s=30)
        # pg_ctl failed or is gone: SIGQUIT is the postmaster's own immediate shutdown.
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call twice."""
        if self.base is None:
            return
        self._stop_server()
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases -------------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """The SQLAlchemy URL of ``dbname`` on this server (psycopg 3 driver, trust auth: no password)."""
        if not self.running:
            raise RuntimeError("the PostgreSQL server is not started")
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """The libpq connection string of ``dbname``, for psycopg.connect."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    def execute(self, statement: str, dbname: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)  # type: ignore[arg-type]  # a str built from names NAME checked

    def create_database(self, name: str, template: str = "template0") -> str:
        """An empty database ``name`` (a copy of ``template``) and its URL: 0.02-0.06 s here (2026-12-08,
        the first one 0.2 s). PostgreSQL 15's default strategy (WAL_LOG) is kept: FILE_COPY measured the
        same and forces a checkpoint, which on a busy server waits for every dirty page."""
        for value in (name, template):
            if not NAME.match(value):
                raise ValueError(f"database name {value!r}: use lower-case letters, digits and _ (at most 63)")
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending the connections a test left open (a SQLAlchemy pool, a killed replica's)."""
        if not NAME.match(name):
            raise ValueError(f"database name {name!r}: use lower-case letters, digits and _ (at most 63)")
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
