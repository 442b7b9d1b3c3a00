"""A throwaway PostgreSQL cluster under a temporary folder, for tests and the bench.

Why by hand: Debian's `postgresql` package gives `initdb` and `pg_ctl` (under
/usr/lib/postgresql/*/bin); a cluster of our own on a free port, owned by an unprivileged
user (postgres refuses to run as root), needs no service and leaves nothing behind.
Authentication is `trust` on 127.0.0.1 and a private socket folder only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "signoff"
DATABASE = "signoff"
RUN_AS = "nobody"


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL binaries, or those on PATH, or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running cluster: `url()` for a database, `socket_url()` for the same over its socket."""

    bindir: Path
    base: Path
    port: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "socket"

    def url(self, database: str = DATABASE, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}" + (
            f"?{query}" if query else ""
        )

    def socket_url(self, database: str = DATABASE, **options: str) -> str:
        """The same database through the unix socket: another road in, as from another host."""
        query = "&".join([f"host={self.socket_dir}", *(f"{k}={v}" for k, v in options.items())])
        return f"postgresql://{SUPERUSER}@/{database}?port={self.port}&{query}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    durable: bool = False

    def start(self) -> None:
        """Start the server; unless `durable`, without fsync (tests need no crash safety
        against the machine dying, and fsync would make them wait on the disk)."""
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.base / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`mode` "immediate" is a crash: no checkpoint, sessions cut off."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0


def init_cluster(bindir: Path, *, durable: bool = False) -> Cluster:
    """initdb into a new temporary folder (owned by the unprivileged user when root)."""
    base = Path(tempfile.mkdtemp(prefix="signoff-pg-"))
    cluster = Cluster(bindir, base, free_port(), durable)
    cluster.socket_dir.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUN_AS)
        for path in (base, cluster.socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)
        base.chmod(0o755)
    cluster._run(
        "initdb",
        "-D",
        str(cluster.data),
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "--no-locale",
        "-E",
        "UTF8",
        "--no-sync",
    )
    return cluster


@contextlib.contextmanager
def running_cluster(bindir: Path, *, durable: bool = False) -> Iterator[Cluster]:
    """A cluster with the `signoff` database, removed afterwards."""
    cluster = init_cluster(bindir, durable=durable)
    try:
        cluster.start()
        _create_database(cluster)
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(cluster.base, ignore_errors=True)


def _create_database(cluster: Cluster) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
